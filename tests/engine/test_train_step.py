"""Every speed option trains on the CPU: precision, channels_last, fused optimizers, compile."""

import json
import math

import pytest
import torch

from cifar_tui.engine.config import ConfigError, make_config
from cifar_tui.engine.data import synthetic
from cifar_tui.engine.events import EpochEnd, Losses, RunFinished
from cifar_tui.engine.train import make_optimizer, train

DATA = synthetic(n_train=64 * 6, n_test=200)


def run(**changes):
    events = []
    settings = {"dataset": "synthetic", "device": "cpu", "epochs": 1, **changes}
    train(1, make_config("seed-cnn", **settings), events.append, data=DATA)
    return events


@pytest.mark.parametrize(
    "changes",
    [
        dict(precision="bf16"),
        dict(precision="fp16"),
        dict(precision="half", optimizer="sgd", nesterov=True, lr=0.01),
        dict(precision="half", optimizer="muon", lr=0.01),
        dict(channels_last=False, fused=False),
        dict(optimizer="sgd", fused=True, nesterov=True),
        dict(optimizer="adamw", weight_decay=0.05, clip_grad_norm=0.5),
        dict(precision="fp16", clip_grad_norm=0.5),
    ],
)
def test_speed_options_train(changes):
    events = run(**changes)
    assert isinstance(events[-1], RunFinished)
    losses = [loss for e in events if isinstance(e, Losses) for loss in e.losses]
    assert len(losses) == 6 and all(math.isfinite(x) for x in losses)
    end = next(e for e in events if isinstance(e, EpochEnd))
    assert end.train_loss == pytest.approx(sum(losses) / 6)


def test_half_puts_the_weights_and_inputs_in_fp16_but_batchnorm_in_fp32():
    from cifar_tui.engine.models import build_model
    from cifar_tui.engine.train_step import autocast, cast_model, prepare_inputs

    config = make_config("speedrun", precision="half")
    model = cast_model(build_model("airbench", 10), config)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert norms and convs
    assert {p.dtype for m in norms for p in m.parameters()} == {torch.float32}
    assert {b.dtype for m in norms for b in m.buffers() if b.is_floating_point()} == {torch.float32}
    assert {m.weight.dtype for m in convs} == {torch.float16}
    assert prepare_inputs(torch.zeros(2, 3, 32, 32), config).dtype == torch.float16
    assert not torch.is_autocast_enabled("cpu") and not isinstance(
        autocast(config, torch.device("cpu")), torch.autocast
    )
    logits = model.eval()(prepare_inputs(torch.randn(4, 3, 32, 32), config))
    assert logits.dtype == torch.float16 and torch.isfinite(logits).all()


@pytest.mark.slow
def test_a_half_run_learns_like_fp32():
    accuracy = {}
    for precision in ("fp32", "half"):
        events = run(precision=precision, epochs=4, optimizer="sgd", nesterov=True, lr=0.02)
        accuracy[precision] = [e.test_acc for e in events if isinstance(e, EpochEnd)][-1]
    # 200 test images: 39.5% both ways here (chance is 10%); a step's rounding may move a few
    assert accuracy["half"] > 30 and abs(accuracy["half"] - accuracy["fp32"]) < 6, accuracy


def test_fused_is_used_on_the_cpu():
    model = torch.nn.Linear(2, 2)
    assert make_optimizer(make_config(fused=True), model, torch.device("cpu")).defaults["fused"]
    assert not make_optimizer(make_config(fused=False), model, torch.device("cpu")).defaults.get("fused")


def test_options_are_recorded_in_the_config():
    config = make_config(precision="bf16", channels_last=False, compile="default", fused=False)
    assert {k: config.to_dict()[k] for k in ("precision", "channels_last", "compile", "fused")} == {
        "precision": "bf16",
        "channels_last": False,
        "compile": "default",
        "fused": False,
    }


@pytest.mark.parametrize("field, value", [("precision", "fp8"), ("compile", "max")])
def test_bad_speed_options(field, value):
    with pytest.raises(ConfigError, match=f"^{field}: unknown"):
        make_config(**{field: value})


def test_half_refuses_adam_whose_state_underflows_in_fp16():
    with pytest.raises(ConfigError, match="^precision: half trains with optimizer sgd or muon"):
        make_config(precision="half", optimizer="adam")


@pytest.mark.slow
def test_torch_compile_trains():
    events = run(compile="default")
    assert isinstance(events[-1], RunFinished)
    assert events[0].device_name.endswith(", torch.compile")  # how the steps ran, beside the device


def test_cudagraphs_without_cuda_fails_the_run_clearly():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="compile: cudagraphs needs a CUDA device"):
        run(compile="cudagraphs")


def test_cudagraphs_refuses_fp16():
    with pytest.raises(ConfigError, match="compile: cudagraphs works with precision fp32, bf16 or half"):
        make_config(compile="cudagraphs", precision="fp16")


@pytest.mark.gpu
@pytest.mark.parametrize("precision, optimizer", [("fp32", "adam"), ("bf16", "adam"), ("fp32", "sgd"), ("half", "sgd")])
def test_cudagraphs_train_like_eager(precision, optimizer):
    def losses(compile_mode):
        events = []
        config = make_config(
            "seed-cnn",
            dataset="synthetic",
            device="cuda",
            epochs=2,
            compile=compile_mode,
            precision=precision,
            optimizer=optimizer,
            limit_batches=0,
        )
        train(1, config, events.append, data=type(DATA)(DATA.train.to("cuda"), DATA.test.to("cuda")))
        assert isinstance(events[-1], RunFinished)
        return [loss for e in events if isinstance(e, Losses) for loss in e.losses]

    graphed, eager = losses("cudagraphs"), losses("off")
    assert len(graphed) == len(eager) == 12
    assert graphed[:3] == pytest.approx(eager[:3], rel=1e-3)  # the eager warm-up steps
    assert graphed[-1] < graphed[0] and all(math.isfinite(x) for x in graphed)


CUDA = torch.device("cuda")  # a device object only: nothing here touches a GPU


@pytest.mark.parametrize(
    "preset, changes, device, expected",
    [
        ("seed-cnn", {}, CUDA, "cudagraphs"),
        ("seed-resnet", dict(precision="bf16"), CUDA, "cudagraphs"),
        ("seed-resnet18", {}, CUDA, "cudagraphs"),
        ("seed-cnn", {}, torch.device("cpu"), "off"),
        ("seed-cnn", dict(precision="fp16"), CUDA, "off"),  # its scaler cannot be captured
        ("seed-cnn", dict(lr_schedule="cosine"), CUDA, "off"),  # a graph replays one learning rate
        ("seed-cnn", dict(model="vgg16"), CUDA, "off"),  # not measured: eager
        ("speedrun", {}, CUDA, "off"),  # its schedule and lookahead
        ("seed-cnn", dict(compile="off"), CUDA, "off"),
        ("seed-cnn", dict(compile="default"), CUDA, "default"),
    ],
)
def test_compile_auto_picks_cuda_graphs_only_where_they_were_measured_to_win(preset, changes, device, expected):
    from cifar_tui.engine.train_step import resolve_compile

    config = make_config(preset, **changes)
    assert resolve_compile(config, device).compile == expected
    assert config.compile == changes.get("compile", "auto")  # the config itself is left as it was


def test_a_run_records_compile_auto_as_asked_not_as_resolved():
    started = run()[0]
    assert json.loads(started.config_json)["compile"] == "auto"


@pytest.mark.gpu
def test_the_seed_presets_run_as_cuda_graphs_by_default_on_cuda():
    data = synthetic(n_train=64 * 6 + 10, n_test=200)
    events = []
    config = make_config("seed-cnn", dataset="synthetic", device="cuda", epochs=1)
    train(1, config, events.append, data=type(data)(data.train.to("cuda"), data.test.to("cuda")))
    assert isinstance(events[-1], RunFinished)
    # A graph replays one batch shape, so the last partial batch (10 images) is dropped; eager keeps it.
    assert events[0].steps_per_epoch == 6 and json.loads(events[0].config_json)["compile"] == "auto"
    assert events[0].device_name.endswith(", CUDA graph")


def test_the_trial_step_leaves_the_model_as_it_was():
    from cifar_tui.engine.models import build_model
    from cifar_tui.engine.train_step import trial_step

    model = build_model("seed-resnet")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trial_step(model, make_config(batch_size=8), torch.device("cpu"), 10)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN stats too
    assert all(p.grad is None for p in model.parameters())


def test_a_trial_step_that_runs_out_of_memory_fails_before_training(monkeypatch):
    from cifar_tui.engine.models import build_model
    from cifar_tui.engine.train_step import trial_step
    from cifar_tui.engine.worker import describe_error

    model = build_model("seed-cnn")

    def too_big(*args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(model, "forward", too_big)
    config = make_config(batch_size=8192)
    with pytest.raises(torch.cuda.OutOfMemoryError) as caught:
        trial_step(model, config, torch.device("cpu"), 10)
    assert describe_error(caught.value, config) == "CUDA out of memory at batch size 8192; try a smaller --batch-size"


def _linear_and_batch(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    inputs, targets = torch.randn(8, 3, 32, 32) * 50, torch.randint(0, 10, (8,))  # large inputs: large gradients
    return model, inputs, targets


def test_adamw_decays_the_weights_apart_from_the_gradient_and_adam_adds_it_to_the_gradient():
    from cifar_tui.engine.train import make_optimizer

    for name, expected in (("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam)):
        model, _, _ = _linear_and_batch()
        config = make_config("seed-cnn", optimizer=name, weight_decay=0.1, lr=0.01, channels_last=False)
        optimizer = make_optimizer(config, model, torch.device("cpu"))
        assert type(optimizer) is expected
        before = [p.detach().clone() for p in model.parameters()]
        for p in model.parameters():
            p.grad = torch.zeros_like(p)  # no loss: what moves the weights is the decay alone
        optimizer.step()
        after = list(model.parameters())
        if name == "adamw":  # decoupled: w <- w (1 - lr wd), exactly
            assert all(torch.allclose(a, b * (1 - 0.01 * 0.1)) for a, b in zip(after, before))
        else:  # L2: the decay is a gradient Adam normalises, a step of about lr whatever the weight
            moved = (after[0] - before[0]).abs()
            assert torch.allclose(moved[before[0].abs() > 1e-3], torch.tensor(0.01), rtol=1e-2)


def test_clip_grad_norm_steps_as_torchs_clip_grad_norm_does():
    from cifar_tui.engine.train import make_optimizer
    from cifar_tui.engine.train_step import make_step

    config = make_config("seed-cnn", optimizer="sgd", lr=0.1, clip_grad_norm=0.25, channels_last=False, fused=False)
    model, inputs, targets = _linear_and_batch()
    make_step(model, make_optimizer(config, model, torch.device("cpu")), config, torch.device("cpu"))(inputs, targets)
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters()]))
    assert norm == pytest.approx(0.25, rel=1e-4)  # the gradients were larger, and were scaled down to 0.25

    reference, inputs, targets = _linear_and_batch()
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=config.momentum)
    torch.nn.functional.cross_entropy(reference(inputs), targets).backward()
    torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.25)
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), reference.parameters()))


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(clip_grad_norm=-1.0), "clip_grad_norm: must be >= 0"),
        (dict(clip_grad_norm=1.0, compile="cudagraphs", device="cuda"), "cudagraphs needs"),
    ],
)
def test_impossible_clipping_is_one_line(changes, message):
    from cifar_tui.engine.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_config("seed-cnn", **changes)
