import math

import pytest
import torch

from cifar_tui.engine.checkpoint import (
    CheckpointError,
    checkpoint_path,
    commit,
    load_checkpoint,
    pending_path,
    write_pending,
)
from cifar_tui.engine.config import make_config
from cifar_tui.engine.data import synthetic
from cifar_tui.engine.events import EpochEnd, Losses, RunFailed, RunFinished, RunStarted
from cifar_tui.engine.train import train
from cifar_tui.engine.worker import Job, run_job
from tests.helpers import committing

DATA = synthetic(n_train=64 * 5, n_test=300)


def save_checkpoint(path, state):
    """Write and commit at once, as the recorder does after recording the epoch."""
    commit(write_pending(path, state.get("epoch", 0), state), path)


def state(run_id=7, step=3, **changes):
    config = make_config("seed-cnn", dataset="synthetic", device="cpu")
    return {
        "run_id": run_id,
        "config": config.to_json(),
        "epoch": 1,
        "step": step,
        "model": {},
        "optimizer": {},
        "torch_rng": torch.get_rng_state(),
        "generator": torch.Generator().get_state(),
        **changes,
    }


def test_save_is_atomic_and_loads_back(tmp_path):
    path = checkpoint_path(tmp_path, 7)
    save_checkpoint(path, state(step=3))
    save_checkpoint(path, state(step=4, weights=torch.zeros(2)))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left
    loaded = load_checkpoint(path, torch.device("cpu"), 7)
    assert loaded["step"] == 4 and torch.equal(loaded["weights"], torch.zeros(2))
    assert load_checkpoint(checkpoint_path(tmp_path, 8), torch.device("cpu")) is None


def test_a_pending_checkpoint_is_not_the_checkpoint_until_committed(tmp_path):
    path = checkpoint_path(tmp_path, 7)
    save_checkpoint(path, state(step=3))
    temp = write_pending(path, 2, state(step=6))
    assert temp == pending_path(path, 2) and temp.exists()
    assert load_checkpoint(path, torch.device("cpu"), 7)["step"] == 3


def test_a_checkpoint_from_before_run_ids_were_saved_still_resumes_its_run(tmp_path):
    path = checkpoint_path(tmp_path, 7)
    legacy = state()
    del legacy["run_id"]
    save_checkpoint(path, legacy)
    config = make_config("seed-cnn", dataset="synthetic", device="cpu").to_json()
    assert load_checkpoint(path, torch.device("cpu"), 7, config)["step"] == 3
    other = make_config("seed-resnet", dataset="synthetic", device="cpu").to_json()
    with pytest.raises(CheckpointError, match="another config"):
        load_checkpoint(path, torch.device("cpu"), 7, other)


def test_a_checkpoint_written_before_a_field_existed_resumes_with_the_field_at_its_default(tmp_path):
    """An older cifar-tui's checkpoint lacks the fields added since: they were at their defaults."""
    import json

    path = checkpoint_path(tmp_path, 7)
    older = json.loads(make_config("seed-cnn", dataset="synthetic", device="cpu").to_json())
    for field in ("cutout_inside", "augment_policy", "swa_start", "ema_warmup"):  # this round's fields
        del older[field]
    save_checkpoint(path, state(config=json.dumps(older)))
    today = make_config("seed-cnn", dataset="synthetic", device="cpu").to_json()
    assert load_checkpoint(path, torch.device("cpu"), 7, today)["step"] == 3
    changed = make_config("seed-cnn", dataset="synthetic", device="cpu", cutout=8).to_json()
    with pytest.raises(CheckpointError, match="another config"):  # a field off its default still differs
        load_checkpoint(path, torch.device("cpu"), 7, changed)


def test_another_runs_checkpoint_is_refused_naming_the_file(tmp_path):
    path = checkpoint_path(tmp_path, 7)
    save_checkpoint(path, state(run_id=3))
    with pytest.raises(CheckpointError, match=f"{path} belongs to run 3, not run 7; delete"):
        load_checkpoint(path, torch.device("cpu"), 7)
    other = make_config("seed-resnet", dataset="synthetic", device="cpu").to_json()
    save_checkpoint(path, state())
    with pytest.raises(CheckpointError, match="was written with another config"):
        load_checkpoint(path, torch.device("cpu"), 7, other)
    moved = make_config("seed-cnn", dataset="synthetic", device="cuda", name="renamed").to_json()
    assert load_checkpoint(path, torch.device("cpu"), 7, moved)["step"] == 3  # device and name may change


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is not a readable checkpoint"),
        (bytes(range(256)) * 40, "is not a readable checkpoint"),
        (None, "lacks config, epoch"),
    ],
)
def test_unreadable_checkpoints_are_one_clear_error(tmp_path, content, message):
    path = checkpoint_path(tmp_path, 7)
    path.parent.mkdir(parents=True)
    if content is None:
        torch.save({"model": {}}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(path, torch.device("cpu"), 7)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_another_models_weights_fail_the_run_with_the_file_named(tmp_path):
    config = make_config("seed-cnn", dataset="synthetic", device="cpu", epochs=2, limit_batches=2)
    path = checkpoint_path(tmp_path, 1)
    save_checkpoint(path, state(run_id=1, config=config.to_json(), model={"conv.weight": torch.zeros(1)}))
    events = []
    run_job(Job(1, config), events.append, lambda: False, tmp_path, checkpoint_dir=tmp_path)
    assert isinstance(events[-1], RunFailed) and "Error" in events[-1].error


def events_of(config, checkpoint_dir):
    events = []
    train(1, config, committing(events.append), data=DATA, checkpoint_dir=checkpoint_dir)
    return events


def losses(events):
    return [x for e in events if isinstance(e, Losses) for x in e.losses]


@pytest.mark.parametrize(
    "speed",
    [
        {},
        dict(optimizer="adamw", weight_decay=0.05, clip_grad_norm=0.5),
        dict(
            mixup=1.0,
            cutmix=1.0,
            mix_prob=0.8,
            cutout=8,
            erasing=0.5,
            erasing_value="random",
            ema=0.9,
            augment_policy="autoaugment",
        ),
        dict(augment_policy="augmix", ema=0.99),
        dict(augment_policy="trivialaugment", optimizer="sgd", lr=0.05, swa_start=1, swa_lr=0.01, swa_anneal_epochs=1),
        pytest.param(dict(precision="half", optimizer="sgd", nesterov=True, lr=0.01), marks=pytest.mark.slow),
    ],
)
def test_a_resumed_run_continues_where_its_checkpoint_left_off(tmp_path, speed):
    config = make_config("seed-cnn", dataset="synthetic", device="cpu", epochs=3, **speed)
    straight = events_of(config, tmp_path / "straight")
    first_two = events_of(config.replace(epochs=2), tmp_path / "resumed")
    rest = events_of(config, tmp_path / "resumed")
    started = rest[0]
    assert isinstance(started, RunStarted) and started.first_step == 10
    assert [e.epoch for e in rest if isinstance(e, EpochEnd)] == [3]
    assert isinstance(rest[-1], RunFinished)
    # Weights, optimizer, RNG and data order all came back: the same losses as one straight run.
    assert losses(first_two) + losses(rest) == pytest.approx(losses(straight), rel=1e-4)


def test_a_diverging_run_fails_as_diverged_and_keeps_its_losses(tmp_path, monkeypatch):
    import cifar_tui.engine.train_step as train_step

    original = train_step.loss_of
    calls = {"n": 0}

    def poisoned(outputs, targets, label_smoothing=0.0):
        calls["n"] += 1
        loss = original(outputs, targets, label_smoothing)
        return loss * float("nan") if calls["n"] > 2 else loss

    monkeypatch.setattr(train_step, "loss_of", poisoned)
    events = []
    config = make_config("seed-cnn", dataset="synthetic", device="cpu", epochs=1, limit_batches=4)
    run_job(Job(1, config), events.append, lambda: False, tmp_path)
    failed = events[-1]
    assert isinstance(failed, RunFailed) and failed.error.startswith("diverged: loss became nan at step 2")
    recorded = losses(events)
    assert all(math.isfinite(x) for x in recorded[:2]) and math.isnan(recorded[2])  # kept up to the bad step


def test_out_of_memory_names_the_batch_size(tmp_path, monkeypatch):
    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("cifar_tui.engine.worker.train", oom)
    events = []
    run_job(Job(1, make_config(batch_size=4096)), events.append, lambda: False, tmp_path)
    assert events[-1].error == "CUDA out of memory at batch size 4096; try a smaller --batch-size"
