import math

import pytest
import torch

from engine.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from engine.config import make_config
from engine.data import synthetic
from engine.events import EpochEnd, Losses, RunFailed, RunFinished, RunStarted
from engine.train import train
from engine.worker import Job, run_job

DATA = synthetic(n_train=64 * 5, n_test=300)


def test_save_is_atomic_and_loads_back(tmp_path):
    path = checkpoint_path(tmp_path, 7)
    save_checkpoint(path, {"step": 3, "weights": torch.ones(2)})
    save_checkpoint(path, {"step": 4, "weights": torch.zeros(2)})
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temp file left
    state = load_checkpoint(path, torch.device("cpu"))
    assert state["step"] == 4 and torch.equal(state["weights"], torch.zeros(2))
    assert load_checkpoint(checkpoint_path(tmp_path, 8), torch.device("cpu")) is None


def events_of(config, checkpoint_dir):
    events = []
    train(1, config, events.append, data=DATA, checkpoint_dir=checkpoint_dir)
    return events


def losses(events):
    return [x for e in events if isinstance(e, Losses) for x in e.losses]


def test_a_resumed_run_continues_where_its_checkpoint_left_off(tmp_path):
    config = make_config("seed-cnn", dataset="synthetic", device="cpu", epochs=3)
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
    import engine.train_step as train_step

    original = train_step.loss_of
    calls = {"n": 0}

    def poisoned(outputs, targets):
        calls["n"] += 1
        loss = original(outputs, targets)
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

    monkeypatch.setattr("engine.worker.train", oom)
    events = []
    run_job(Job(1, make_config(batch_size=4096)), events.append, lambda: False, tmp_path)
    assert events[-1].error == "CUDA out of memory at batch size 4096; try a smaller --batch-size"
