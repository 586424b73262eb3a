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
    halves = schedule.Schedule("halves", "halved at each half", lambda step, total, warmup: 0.5 ** (2 * step // total))
    monkeypatch.setattr(schedule, "SCHEDULE_LIST", (*schedule.SCHEDULE_LIST, halves))
    monkeypatch.setattr(schedule, "BY_NAME", {**schedule.BY_NAME, "halves": halves})
    assert [lr_at(step, 4, 0.8, "halves") for step in range(4)] == [0.8, 0.8, 0.4, 0.4]
    assert "halves: halved at each half" in schedule.schedules_help()
