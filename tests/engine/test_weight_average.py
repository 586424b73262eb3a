"""--ema: the loop's average equals torch's AveragedModel fed the raw weights after every step,
the test set sees the average, the raw model's accuracy is recorded beside it, and checkpoints
(resume, `evaluate`) carry the average."""

import copy

import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from cifar_tui.engine import train as train_module
from cifar_tui.engine.checkpoint import checkpoint_path, load_checkpoint
from cifar_tui.engine.config import ConfigError, make_config
from cifar_tui.engine.data import synthetic
from cifar_tui.engine.events import EpochEnd
from cifar_tui.engine.train import train
from cifar_tui.engine.weight_average import averaged_weights, evaluated_weights
from tests.helpers import committing

DATA = synthetic(n_train=512, n_test=256)


@pytest.mark.parametrize("warmup", [False, True])
def test_the_average_is_torchs_averaged_model_over_the_same_steps(tmp_path, monkeypatch, warmup):
    """--ema-warmup: torch's EMA function at each step's own decay, min(0.8, (1 + t) / (10 + t))."""
    config = make_config(
        "seed-cnn", dataset="synthetic", device="cpu", epochs=2, batch_size=64, ema=0.8, ema_warmup=warmup
    )
    snapshots = []  # the raw model's weights and buffers after each step
    make_step = train_module.make_step

    def recording_step(model, *args):
        step = make_step(model, *args)

        def run(inputs, targets):
            loss = step(inputs, targets)
            snapshots.append(copy.deepcopy(model.state_dict()))
            return loss

        return run

    monkeypatch.setattr(train_module, "make_step", recording_step)
    events = []
    train(1, config, committing(events.append), data=DATA, checkpoint_dir=tmp_path)
    assert len(snapshots) == 16
    model = train_module.build(config, torch.device("cpu"), DATA).raw_model

    def warmed(averaged, current, n):
        get_ema_multi_avg_fn(min(0.8, (1 + int(n)) / (10 + int(n))))(averaged, current, n)

    reference = AveragedModel(model, multi_avg_fn=warmed if warmup else get_ema_multi_avg_fn(0.8), use_buffers=True)
    for weights in snapshots:
        model.load_state_dict(weights)
        reference.update_parameters(model)
    saved = load_checkpoint(checkpoint_path(tmp_path, 1), "cpu", 1)
    ours = averaged_weights(saved["ema"])
    theirs = reference.module.state_dict()
    assert ours.keys() == theirs.keys() and any("running_mean" in k for k in ours)  # BatchNorm buffers too
    for key in theirs:
        assert torch.allclose(ours[key].float(), theirs[key].float(), rtol=1e-6, atol=1e-7), key
    assert not torch.equal(ours["conv1.weight"], saved["model"]["conv1.weight"])  # the average, not the raw
    assert torch.equal(evaluated_weights(saved)["conv1.weight"], ours["conv1.weight"])  # what `evaluate` loads


def test_the_test_set_sees_the_average_and_the_raw_accuracy_is_recorded_beside_it(monkeypatch):
    config = make_config("seed-cnn", dataset="synthetic", device="cpu", epochs=2, ema=0.9)
    scored = []
    evaluate = train_module.evaluate

    def watching(model, *args):
        result = evaluate(model, *args)
        scored.append((model, result.acc))
        return result

    monkeypatch.setattr(train_module, "evaluate", watching)
    events = []
    train(1, config, events.append, data=DATA)
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert len(scored) == 4  # each epoch: the average, then the raw model
    averaged, raw = scored[2], scored[3]
    assert isinstance(averaged[0], torch.nn.Module) and averaged[0] is not raw[0]
    assert ends[-1].test_acc == averaged[1] and ends[-1].raw_test_acc == raw[1]
    plain = []
    train(1, config.replace(ema=0.0), plain.append, data=DATA)
    assert all(e.raw_test_acc is None for e in plain if isinstance(e, EpochEnd))


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(ema=1.0), "ema: must be a decay between 0 and 1"),
        (dict(ema=0.99, precision="half", optimizer="sgd"), "ema: averaging fp16"),
    ],
)
def test_impossible_averages_are_one_line(fields, message):
    with pytest.raises(ConfigError, match=message):
        make_config("seed-cnn", **fields)


def test_an_update_never_asks_the_device_anything(monkeypatch):
    """AveragedModel's own update reads its counter on the host at every step (a GPU sync); ours
    knows on the host whether it has begun, so no tensor is turned into a Python value."""
    from cifar_tui.engine.weight_average import WeightAverage

    model = train_module.build(make_config("seed-cnn", device="cpu"), torch.device("cpu"), DATA).raw_model
    average = WeightAverage(model, 0.9)

    def refuse(*args):
        raise AssertionError("a tensor was read on the host")

    for read in ("__bool__", "item", "tolist"):
        monkeypatch.setattr(torch.Tensor, read, refuse)
    for _ in range(3):
        average.update_parameters(model)
    monkeypatch.undo()
    assert int(average.n_averaged) == 3


def test_a_restored_average_goes_on_averaging():
    from cifar_tui.engine.weight_average import WeightAverage

    model = train_module.build(make_config("seed-cnn", device="cpu"), torch.device("cpu"), DATA).raw_model
    first = WeightAverage(model, 0.5)
    first.update_parameters(model)
    restored = WeightAverage(model, 0.5)
    restored.load_state_dict(first.state_dict())
    assert restored.updates == 1  # it knows on the host that it has begun
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    first.update_parameters(model)
    restored.update_parameters(model)  # a lerp, not a copy: the first update was made before the save
    assert torch.equal(restored.module.conv1.weight, first.module.conv1.weight)
    assert not torch.equal(restored.module.conv1.weight, model.conv1.weight)


def test_swa_is_torchs_averaged_model_of_each_epochs_weights_with_update_bn(tmp_path, monkeypatch):
    """--swa-start 1 of 3 epochs: the average of the weights at the ends of epochs 2 and 3, its
    BatchNorm statistics update_bn's over the training images, as torch's own make them."""
    from torch.optim.swa_utils import update_bn

    config = make_config(
        "seed-cnn", dataset="synthetic", device="cpu", epochs=3, optimizer="sgd", lr=0.05, swa_start=1, swa_lr=0.01
    )
    added = []  # the raw weights each time the loop adds them to the average
    add_to_swa = train_module.add_to_swa

    def recording(swa, model, batches):
        added.append(copy.deepcopy(model.state_dict()))
        add_to_swa(swa, model, batches)

    monkeypatch.setattr(train_module, "add_to_swa", recording)
    events = []
    train(1, config, committing(events.append), data=DATA, checkpoint_dir=tmp_path)
    assert len(added) == 2  # epochs 2 and 3
    saved = load_checkpoint(checkpoint_path(tmp_path, 1), "cpu", 1)
    ours = averaged_weights(saved["swa"])
    for key in ("conv1.weight", "fc1.weight"):  # the plain mean, by hand
        assert torch.allclose(ours[key], (added[0][key] + added[1][key]) / 2, atol=1e-7), key
    model = train_module.build(config, torch.device("cpu"), DATA).raw_model
    reference = AveragedModel(model)
    for weights in added:
        model.load_state_dict(weights)
        reference.update_parameters(model)
    update_bn([DATA.train.images[i : i + 1000].float().mul(2 / 255).sub(1) for i in range(0, 512, 1000)], reference)
    theirs = reference.module.state_dict()
    assert any("running_var" in k for k in theirs)
    for key in theirs:
        # ours ran channels_last: float32 sums in another order, 2e-5 apart after two convolutions
        assert torch.allclose(ours[key].float(), theirs[key].float(), rtol=1e-4, atol=1e-4), key
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert ends[0].raw_test_acc is None and ends[1].raw_test_acc is not None  # raw beside once it averages
    assert not torch.equal(ours["conv1.weight"], saved["model"]["conv1.weight"])
    assert torch.equal(evaluated_weights(saved)["conv1_bn.running_var"], ours["conv1_bn.running_var"])  # `evaluate`'s
    del saved["swa"]
    assert evaluated_weights(saved) is saved["model"]


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(swa_start=10), "swa_start: must be >= 0 and before the run's last epoch 10"),
        (dict(swa_start=2, ema=0.99), "swa_start: one average at a time"),
        (dict(swa_start=2, precision="half", optimizer="sgd"), "swa_start: averaging fp16"),
        (dict(swa_start=2, swa_lr=0), "swa_lr: must be > 0"),
        (dict(swa_start=2, compile="cudagraphs", device="cuda"), "swa_start 0"),
    ],
)
def test_impossible_swa_is_one_line(fields, message):
    with pytest.raises(ConfigError, match=message):
        make_config("seed-cnn", **fields)
