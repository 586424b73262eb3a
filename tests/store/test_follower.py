"""The follower turns rows back into the events the recorder wrote: a round trip, row by row."""

import json

from cifar_tui.engine.config import make_config
from cifar_tui.engine.events import (
    EpochEnd,
    Losses,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunInterrupted,
    RunPaused,
    RunPruned,
    RunStarted,
)
from cifar_tui.store.follower import StoreFollower
from cifar_tui.store.recorder import record
from cifar_tui.store.runs import RunStore

CONFIG = make_config(dataset="synthetic", epochs=2)


def write(store, *events):
    with store.write():
        for event in events:
            record(store, event)


def end(run_id, epoch):
    return EpochEnd(
        run_id, epoch, epoch * 3, 1.0, 0.5, 80.0 + epoch, (80.0,) * 10, 1.0, 9000.0, memory_peak=epoch << 30
    )


def claimed(store, worker="gpu-box:77"):
    run_id = store.enqueue(CONFIG.to_dict())
    store.claim(run_id, worker=worker)
    return run_id


def test_a_recorded_run_comes_back_as_the_same_events(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    seen = []
    follower = StoreFollower(store, seen.append)
    run_id = claimed(store)
    config_json = json.dumps(CONFIG.to_dict(), sort_keys=True)
    started = RunStarted(run_id, config_json, "cuda:0", "H100", 43626, 3, 6, memory_total=80 << 30)
    batches = [
        [started, Losses(run_id, 1, 0, (2.0, 1.5), memory_used=5 << 30)],
        [Losses(run_id, 1, 2, (1.25,)), end(run_id, 1), Losses(run_id, 2, 3, (1.0, 0.75), memory_used=6 << 30)],
        [Losses(run_id, 2, 5, (0.5,)), end(run_id, 2), RunFinished(run_id, 82.0, 0.5, 2.0)],
    ]
    for batch in batches:
        write(store, *batch)
        follower.poll()
    assert seen[0] == started
    assert [x for e in seen if isinstance(e, Losses) for x in e.losses] == [2.0, 1.5, 1.25, 1.0, 0.75, 0.5]
    assert [e for e in seen if isinstance(e, EpochEnd)] == [end(run_id, 1), end(run_id, 2)]
    assert [e.memory_used for e in seen if isinstance(e, Losses)][-1] == 6 << 30  # the last recorded
    assert seen[-1] == RunFinished(run_id, 82.0, 0.5, 2.0)
    assert sum(isinstance(e, RunFinished) for e in seen) == 1  # each ending once
    follower.poll()
    assert seen[-1] == RunFinished(run_id, 82.0, 0.5, 2.0)


def test_a_run_that_started_and_ended_between_two_polls_is_shown_whole(tmp_path):
    """A quick run (a few batches, a limited evaluation) can begin and end within one poll: the
    viewer still gets its losses and epochs, then its ending, not an empty finished run."""
    store = RunStore(tmp_path / "runs.db")
    seen = []
    follower = StoreFollower(store, seen.append)
    follower.poll()
    run_id = claimed(store)
    started = RunStarted(run_id, CONFIG.to_json(), "cpu", "2 CPU threads", 43626, 3, 6)
    write(store, started, Losses(run_id, 1, 0, (2.0, 1.5, 1.25)), end(run_id, 1))
    write(store, Losses(run_id, 2, 3, (1.0, 0.75, 0.5)), end(run_id, 2), RunFinished(run_id, 82.0, 0.5, 2.0))
    follower.poll()
    assert isinstance(seen[0], RunStarted) and seen[0].run_id == run_id and seen[0].total_steps == 6
    assert [x for e in seen if isinstance(e, Losses) for x in e.losses] == [2.0, 1.5, 1.25, 1.0, 0.75, 0.5]
    assert [e for e in seen if isinstance(e, EpochEnd)] == [end(run_id, 1), end(run_id, 2)]
    assert seen[-1] == RunFinished(run_id, 82.0, 0.5, 2.0) and sum(isinstance(e, RunFinished) for e in seen) == 1
    follower.poll()
    assert sum(isinstance(e, RunFinished) for e in seen) == 1


def test_a_pause_request_is_followed_both_ways(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    seen = []
    follower = StoreFollower(store, seen.append)
    run_id = claimed(store)
    write(store, RunStarted(run_id, CONFIG.to_json(), "cpu", "2 CPU threads", 1, 3, 6))
    follower.poll()
    assert store.request_pause(run_id, True)
    follower.poll()
    follower.poll()
    assert store.request_pause(run_id, False)
    follower.poll()
    assert [e for e in seen if isinstance(e, RunPaused)] == [RunPaused(run_id, True), RunPaused(run_id, False)]


def test_an_older_stores_epochs_come_back_with_default_measures(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run_id = claimed(store)
    write(store, RunStarted(run_id, CONFIG.to_json(), "cpu", "2 CPU threads", 1, 3, 6), end(run_id, 1))
    with store.write():
        store.db.execute("UPDATE epochs SET memory_peak = NULL")  # as before migration m006
    seen = []
    StoreFollower(store, seen.append).poll()
    [epoch] = [e for e in seen if isinstance(e, EpochEnd)]
    assert epoch.memory_peak == 0 and epoch.class_acc == (80.0,) * 10


def test_every_ending_is_reported_once_even_before_training(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    seen = []
    follower = StoreFollower(store, seen.append)
    never_trained = claimed(store)
    write(store, RunFailed(never_trained, "device: cuda:7 does not exist"))
    follower.poll()
    assert isinstance(seen[0], RunStarted) and seen[0].total_steps == 0  # Live shows it
    assert seen[1] == RunFailed(never_trained, "device: cuda:7 does not exist")
    training = claimed(store)
    write(store, RunStarted(training, CONFIG.to_json(), "cpu", "2 CPU threads", 1, 3, 6))
    follower.poll()
    assert seen[-1].run_id == training
    other = claimed(store)
    write(store, RunCancelled(other, 0))  # cancelled: the user did it, and Live keeps its run
    with store.write():
        store.db.execute(
            "UPDATE runs SET status = 'interrupted', error = 'worker gone', finished_at = ? WHERE id = ?",
            ["9999", training],
        )
    follower.poll()
    assert seen[-1] == RunInterrupted(training, "worker gone")
    assert sum(isinstance(e, (RunFailed, RunInterrupted)) for e in seen) == 2


def test_a_resumed_run_is_followed_again(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    seen = []
    follower = StoreFollower(store, seen.append)
    run_id = claimed(store)
    write(store, RunStarted(run_id, CONFIG.to_json(), "cpu", "cpu", 1, 3, 6), Losses(run_id, 1, 0, (1.0,)))
    follower.poll()
    write(store, RunCancelled(run_id, 1))
    follower.poll()
    assert isinstance(seen[-1], RunCancelled)
    assert store.claim_to_resume(run_id, "w:2")
    write(
        store, RunStarted(run_id, CONFIG.to_json(), "cpu", "cpu", 1, 3, 6, first_step=0), Losses(run_id, 1, 0, (0.5,))
    )
    follower.poll()
    assert isinstance(seen[-2], RunStarted) and seen[-1] == Losses(run_id, 1, 0, (0.5,))


def test_a_chosen_run_is_followed_until_it_ends_then_the_newest_again(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    seen = []
    follower = StoreFollower(store, seen.append)
    older, newer = claimed(store, "gpu0:1"), claimed(store, "gpu1:2")
    for run_id in (older, newer):
        write(store, RunStarted(run_id, CONFIG.to_json(), "cuda:0", "H100", 1, 3, 6))
    follower.poll()
    assert follower.run_id == newer
    follower.watch(older)
    write(store, Losses(older, 1, 0, (2.0,)), Losses(newer, 1, 0, (9.0,)))
    follower.poll()
    assert seen[-2] == RunStarted(older, json.dumps(CONFIG.to_dict(), sort_keys=True), "cuda:0", "H100", 1, 3, 6)
    assert seen[-1].run_id == older and seen[-1].losses == (2.0,)
    write(store, RunCancelled(older, 1))
    follower.poll()
    follower.poll()
    assert follower.run_id == newer and follower.running


def test_a_pruned_trial_comes_back_pruned_at_its_epoch_and_its_viewer_hears_of_it(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    seen = []
    follower = StoreFollower(store, seen.append)
    trial = claimed(store)
    write(store, RunStarted(trial, CONFIG.to_json(), "cpu", "2 CPU threads", 1, 3, 6), end(trial, 1))
    follower.poll()
    write(store, RunPruned(trial, 1, 3))
    follower.poll()
    assert isinstance(seen[-1], RunPruned) and (seen[-1].run_id, seen[-1].epoch) == (trial, 1)
    assert store.run(trial)["status"] == "pruned"
    assert [r["id"] for r in store.ended_since("")] == [trial]
