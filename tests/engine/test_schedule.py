import pytest

from cifar_tui.engine.schedule import lr_at


def test_constant():
    assert lr_at(0, 100, 0.1, "constant") == lr_at(99, 100, 0.1, "constant") == 0.1


def test_cosine_warms_up_then_decays_to_zero():
    lrs = [lr_at(step, 110, 0.1, "cosine", warmup_steps=10) for step in range(110)]
    assert lrs[0] == pytest.approx(0.01) and lrs[9] == pytest.approx(0.1)
    assert lrs[10] == pytest.approx(0.1) and lrs[60] == pytest.approx(0.05)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-4)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def torch_rates(make_scheduler, steps: int, base: float = 0.1) -> list[float]:
    """The rates torch's own scheduler gives at steps 0 .. steps-1."""
    import torch

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_speedrun96_is_airbench96s_own_lambda():
    from torch.optim.lr_scheduler import LambdaLR

    total = 48 * 37  # airbench96: 37 epochs of 48 batches of 1,024

    def airbench96_get_lr(step):  # legacy/airbench96.py's get_lr, as it is written there
        warmup_steps = int(total * 0.1)
        warmdown_steps = total - warmup_steps
        if step < warmup_steps:
            frac = step / warmup_steps
            return 0.2 * (1 - frac) + 1.0 * frac
        frac = (total - step) / warmdown_steps
        return frac

    theirs = torch_rates(lambda o: LambdaLR(o, airbench96_get_lr), total)
    assert [lr_at(i, total, 0.1, "speedrun96") for i in range(total)] == pytest.approx(theirs, abs=1e-12)


def test_each_schedule_matches_torchs_own_scheduler():
    from torch.optim import lr_scheduler as s

    total, warmup = 110, 10
    cosine = torch_rates(
        lambda o: s.SequentialLR(
            o,
            [s.LinearLR(o, 0.1, 1.0, total_iters=warmup - 1), s.CosineAnnealingLR(o, T_max=total - warmup)],
            milestones=[warmup],
        ),
        total,
    )
    assert [lr_at(i, total, 0.1, "cosine", warmup) for i in range(total)] == pytest.approx(cosine, abs=1e-12)
    linear = torch_rates(lambda o: s.LinearLR(o, 1.0, 0.0, total_iters=total), total)
    assert [lr_at(i, total, 0.1, "linear") for i in range(total)] == pytest.approx(linear, abs=1e-12)
    peak = int(total * 0.23)
    speedrun = torch_rates(
        lambda o: s.SequentialLR(
            o, [s.LinearLR(o, 0.2, 1.0, total_iters=peak), s.LinearLR(o, 1.0, 0.07, total_iters=total - peak)],
            milestones=[peak],
        ),
        total,
    )  # fmt: skip
    assert [lr_at(i, total, 0.1, "speedrun") for i in range(total)] == pytest.approx(speedrun, abs=1e-12)
    assert [lr_at(i, total, 0.1, "constant") for i in range(total)] == torch_rates(
        lambda o: s.ConstantLR(o, 1.0), total
    )


def test_a_new_schedule_is_one_declaration(monkeypatch):
    from cifar_tui.engine import schedule
    from cifar_tui.engine.config import SETTINGS

    assert SETTINGS["lr_schedule"].allowed() == tuple(s.name for s in schedule.SCHEDULE_LIST)
    halves = schedule.Schedule("halves", "halved at each half", lambda step, span: 0.5 ** (2 * step // span.total))
    monkeypatch.setattr(schedule, "SCHEDULE_LIST", (*schedule.SCHEDULE_LIST, halves))
    monkeypatch.setattr(schedule, "BY_NAME", {**schedule.BY_NAME, "halves": halves})
    assert [lr_at(step, 4, 0.8, "halves") for step in range(4)] == [0.8, 0.8, 0.4, 0.4]
    assert "halves: halved at each half" in schedule.schedules_help()


def run_config(**fields):
    from cifar_tui.engine.config import make_config

    return make_config("seed-cnn", epochs=10, lr=0.1, **fields)


def test_multistep_and_the_warm_up_step_as_torchs_schedulers():
    from torch.optim import lr_scheduler as s

    from cifar_tui.engine.schedule import rate_at

    total, per_epoch = 200, 20
    resnet = run_config(lr_schedule="multistep")  # the ResNet paper's: 0.1 at half and three quarters
    ours = [rate_at(resnet, i, total, per_epoch) for i in range(total)]
    assert ours == pytest.approx(torch_rates(lambda o: s.MultiStepLR(o, [100, 150], 0.1), total), abs=1e-12)

    wrn = run_config(lr_schedule="multistep", lr_milestones="3+6+8", lr_gamma=0.2, warmup_epochs=0.5)  # epochs
    warm = 10
    torchs = torch_rates(
        lambda o: s.SequentialLR(
            o,
            [
                s.LinearLR(o, 1 / warm, 1.0, total_iters=warm - 1),
                s.MultiStepLR(o, [60 - warm, 120 - warm, 160 - warm], 0.2),
            ],
            milestones=[warm],
        ),
        total,
    )
    assert [rate_at(wrn, i, total, per_epoch) for i in range(total)] == pytest.approx(torchs, abs=1e-12)

    linear = run_config(lr_schedule="linear", warmup_epochs=1)
    torchs = torch_rates(
        lambda o: s.SequentialLR(
            o,
            [s.LinearLR(o, 1 / per_epoch, 1.0, total_iters=per_epoch - 1), s.LinearLR(o, 1.0, 0.0, total - per_epoch)],
            milestones=[per_epoch],
        ),
        total,
    )
    assert [rate_at(linear, i, total, per_epoch) for i in range(total)] == pytest.approx(torchs, abs=1e-12)


@pytest.mark.parametrize(
    "total, pct_start, div, final_div",
    [(200, 0.3, 25.0, 1e4), (1000, 0.25, 10.0, 100.0), (37, 0.5, 1.0, 1.0), (3, 0.3, 25.0, 1e4)],
)
def test_onecycle_is_torchs_one_cycle_lr_step_by_step(total, pct_start, div, final_div):
    from torch.optim import lr_scheduler as s

    from cifar_tui.engine.schedule import rate_at

    config = run_config(
        lr_schedule="onecycle", onecycle_pct_start=pct_start, onecycle_div=div, onecycle_final_div=final_div
    )
    torchs = torch_rates(
        lambda o: s.OneCycleLR(
            o, 0.1, total_steps=total, pct_start=pct_start, div_factor=div, final_div_factor=final_div,
            cycle_momentum=False,
        ),
        total,
    )  # fmt: skip
    assert [rate_at(config, i, total, 10) for i in range(total)] == pytest.approx(torchs, rel=1e-12, abs=1e-15)


def test_an_old_run_without_a_warm_up_keeps_its_rates_bit_for_bit():
    from cifar_tui.engine.schedule import rate_at

    for name in ("constant", "cosine", "linear", "speedrun"):
        config = run_config(lr_schedule=name)
        assert [rate_at(config, i, 300, 30) for i in range(300)] == [lr_at(i, 300, 0.1, name, 30) for i in range(300)]


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(warmup_epochs=10), "warmup_epochs: must be >= 0 and shorter than the run's 10 epochs"),
        (dict(lr_gamma=0), "lr_gamma: must be > 0 and <= 1"),
        (dict(lr_milestones="0.75+0.5"), "lr_milestones: rising positive fractions"),
        (dict(lr_milestones="half"), "lr_milestones: fractions of the run"),
        (dict(lr_milestones="2.5"), "lr_milestones: an epoch milestone is a whole epoch number"),
        (dict(lr_milestones="0.5+12"), "lr_milestones: an epoch milestone past the run's 10 epochs"),
        (dict(warmup_epochs=1, compile="cudagraphs", device="cuda"), "warmup_epochs 0"),
        (dict(onecycle_pct_start=1), "onecycle_pct_start: must be > 0 and < 1"),
        (dict(onecycle_div=0.5), "onecycle_div: must be between 1 and 1e9"),
        (dict(onecycle_final_div=-1), "onecycle_final_div: must be between 1 and 1e9"),
    ],
)
def test_impossible_schedules_are_one_line(fields, message):
    from cifar_tui.engine.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        run_config(**fields)


def test_milestone_sets_are_a_sweep_axis():
    from cifar_tui.engine.sweep import parse_value

    assert parse_value("lr_milestones", "0.5+0.75,0.3+0.6+0.8") == ["0.5+0.75", "0.3+0.6+0.8"]
    assert parse_value("lr_milestones", "0.5+0.75") == "0.5+0.75"


@pytest.mark.parametrize(
    "schedule, swa_start, anneal",
    [("cosine", 6, 3), ("multistep", 3, 10), ("constant", 8, 0), ("onecycle", 5, 1)],
)
def test_swa_rates_are_torchs_swalr_stepped_each_epoch(schedule, swa_start, anneal):
    """Before swa_start the schedule's own rates; from there torch's SWALR (cosine), stepped at each
    epoch's end as torch's recipe steps it, from the rate the schedule had reached."""
    import torch
    from torch.optim.swa_utils import SWALR

    from cifar_tui.engine.schedule import rate_at

    per_epoch, total = 7, 70
    config = run_config(lr_schedule=schedule, swa_start=swa_start, swa_lr=0.02, swa_anneal_epochs=anneal)
    plain = config.replace(swa_start=0)
    first = swa_start * per_epoch
    ours = [rate_at(config, i, total, per_epoch) for i in range(total)]
    assert ours[:first] == [rate_at(plain, i, total, per_epoch) for i in range(first)]
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=rate_at(plain, first, total, per_epoch))
    swalr = SWALR(optimizer, swa_lr=0.02, anneal_epochs=anneal, anneal_strategy="cos")
    torchs = []
    for _ in range(swa_start, config.epochs):
        torchs += [optimizer.param_groups[0]["lr"]] * per_epoch
        optimizer.step()
        swalr.step()
    assert ours[first:] == pytest.approx(torchs, rel=1e-9, abs=1e-15)
    assert ours[-1] == pytest.approx(0.02) or anneal > config.epochs - swa_start


def test_a_warm_up_before_a_constant_rate_is_trained():
    """The rate a run's steps train at (the optimizer's) rises over the warm-up, then stays."""
    import torch

    from cifar_tui.engine import train as train_module
    from cifar_tui.engine.config import make_config
    from cifar_tui.engine.data import synthetic

    config = make_config("seed-cnn", dataset="synthetic", device="cpu", epochs=2, warmup_epochs=1, lr=0.01)
    state = train_module.build(config, torch.device("cpu"), synthetic(n_train=256, n_test=64))
    seen = []
    step = train_module.make_step(state.model, state.optimizer, config, torch.device("cpu"))

    def recording(inputs, targets):
        seen.append(state.optimizer.param_groups[0]["lr"])
        return step(inputs, targets)

    data = synthetic(n_train=256, n_test=64)
    for epoch in (1, 2):
        train_module.train_epoch(state, recording, data.train, config, epoch, 4, False, _Stream(), lambda: False)
    assert seen[:4] == pytest.approx([0.0025, 0.005, 0.0075, 0.01]) and seen[4:] == [0.01] * 4


class _Stream:
    def append(self, *args):
        pass

    def flush(self):
        pass
