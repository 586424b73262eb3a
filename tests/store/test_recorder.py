import json

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.engine.events import EpochEnd, Losses, RunCancelled, RunFailed, RunFinished, RunStarted
from cifar_tui.store.recorder import Recorder
from cifar_tui.store.runs import RunStore

CONFIG = {"model": "seed-cnn", "dataset": "synthetic", "epochs": 2}


@pytest.fixture
def path(tmp_path):
    return tmp_path / "runs.db"


def epoch_end(run_id, epoch, acc):
    return EpochEnd(run_id, epoch, epoch * 3, 1.0 / epoch, 0.5 / epoch, acc, tuple([acc] * 10), 2.0, 100.0 * epoch)


def test_recorder_writes_a_whole_run(path):
    store = RunStore(path)
    run_id = store.enqueue(CONFIG)
    store.claim(run_id)
    seen = []
    recorder = Recorder(path, forward=[seen.append])
    events = [
        RunStarted(run_id, json.dumps(CONFIG), "cpu", "CPU (2 threads)", 43626, 3, 6),
        Losses(run_id, 1, 0, (2.3, 2.2, 2.1)),
        epoch_end(run_id, 1, 40.0),
        Losses(run_id, 2, 3, (1.9,)),
        Losses(run_id, 2, 4, (1.8, 1.7)),
        epoch_end(run_id, 2, 35.0),
        RunFinished(run_id, 35.0, 0.25, 5.0),
    ]
    for event in events:
        recorder(event)
    recorder.close()
    assert seen == events  # forwarded in order, after being written
    row = store.run(run_id)
    assert (row["status"], row["epochs_done"], row["test_acc"], row["best_test_acc"]) == ("finished", 2, 35.0, 40.0)
    assert row["images_per_s"] == pytest.approx(150.0) and row["seconds"] == 4.0
    assert (row["device"], row["params"], row["total_steps"]) == ("cpu", 43626, 6)
    assert store.db.execute("SELECT step, epoch, loss FROM losses ORDER BY step").fetchall() == [
        (0, 1, 2.3),
        (1, 1, 2.2),
        (2, 1, 2.1),
        (3, 2, 1.9),
        (4, 2, 1.8),
        (5, 2, 1.7),
    ]
    assert [e["class_acc"][0] for e in store.epochs(run_id)] == [40.0, 35.0]


@pytest.mark.parametrize(
    "event, status, error",
    [
        (RunFailed(1, "CUDA out of memory"), "failed", "CUDA out of memory"),
        (RunCancelled(1, 3), "cancelled", None),
    ],
)
def test_run_endings(path, event, status, error):
    store = RunStore(path)
    store.claim(store.enqueue(CONFIG))
    recorder = Recorder(path)
    recorder(event)
    recorder.close()
    row = store.run(1)
    assert (row["status"], row["error"]) == (status, error) and row["finished_at"]


def test_every_loss_of_many_chunks_is_written(path):
    store = RunStore(path)
    run_id = store.enqueue(CONFIG)
    recorder = Recorder(path)
    for chunk in range(200):
        recorder(Losses(run_id, 1, chunk * 50, tuple([0.5] * 50)))
    recorder.close()
    assert store.loss_count(run_id) == 10_000


def test_a_resumed_run_drops_losses_after_its_checkpoint(path):
    store = RunStore(path)
    run_id = store.enqueue(CONFIG)
    recorder = Recorder(path)
    recorder(Losses(run_id, 1, 0, (1.0,) * 10))
    recorder(RunStarted(run_id, json.dumps(CONFIG), "cpu", "CPU", 1, 5, 10, first_step=5))
    recorder.close()
    assert store.loss_count(run_id) == 5


def test_a_runs_class_names_are_recorded_and_name_its_per_class_accuracy(path):
    from cifar_tui.store.export import history_rows
    from cifar_tui.store.follower import started

    store = RunStore(path)
    names = tuple(f"class {i}" for i in range(100))
    new, old = store.enqueue(CONFIG), store.enqueue(CONFIG)
    recorder = Recorder(path)
    for run_id, classes in ((new, names), (old, ())):  # an older worker records no names
        store.claim(run_id)
        recorder(RunStarted(run_id, json.dumps(CONFIG), "cpu", "CPU", 1, 3, 3, classes=classes))
    acc = tuple(float(i) for i in range(100))
    recorder(EpochEnd(new, 1, 3, 1.0, 1.0, 50.0, acc, 1.0, 10.0))
    recorder(epoch_end(old, 1, 40.0))
    recorder.close()
    assert store.run(new)["classes"] == list(names) and store.run(old)["classes"] == []
    assert store.find(f"id={new}")[0]["classes"] == list(names)
    (row,) = history_rows(store.run(new), store.epochs(new))
    assert list(row["class_acc"].items())[:2] == [("class 0", 0.0), ("class 1", 1.0)] and len(row["class_acc"]) == 100
    (row,) = history_rows(store.run(old), store.epochs(old))
    assert list(row["class_acc"])[:2] == ["airplane", "automobile"]  # before names were recorded: CIFAR-10's
    assert started(store.run(new)).classes == names  # what Live learns of a run another process trains


def test_settled_waits_for_a_run_s_ending_but_not_on_a_recorder_that_stopped(path):
    """A worker with `--until-empty` asks whether its last run's ending is written before it calls
    the queue empty: a stopped recorder will write nothing more, so there is nothing to wait for."""
    store = RunStore(path)
    run_id = store.enqueue(make_config("seed-cnn", dataset="synthetic").to_dict())
    claim = store.claim(run_id, worker="w:1")
    store.close()
    recorder = Recorder(path, worker="w:1")
    recorder.own(run_id, claim.token)
    assert recorder.settled(run_id, timeout=0.2) is False  # no ending sent yet
    assert recorder.close()
    assert recorder.settled(run_id, timeout=5) is True
