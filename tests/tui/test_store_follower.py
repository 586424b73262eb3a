"""The Live view follows runs that other processes train, through the store."""


from engine.config import make_config
from engine.events import EpochEnd, Losses, RunFinished, RunStarted
from store.recorder import record
from store.runs import RunStore
from tui.live_state import LiveState
from tui.store_follower import StoreFollower


def write(store, *events):
    with store.write():
        for event in events:
            record(store, event)


def started_elsewhere(store, worker="gpu-box:77"):
    config = make_config(dataset="synthetic", epochs=2)
    run_id = store.enqueue(config.to_dict())
    store.claim(run_id, worker=worker)
    write(store, RunStarted(run_id, config.to_json(), "cuda:0", "H100", 43626, 3, 6))
    return run_id


def end(run_id, epoch):
    return EpochEnd(run_id, epoch, epoch * 3, 1.0, 0.5, 80.0 + epoch, (80.0,) * 10, 1.0, 9000.0)


def test_follows_another_workers_run_row_by_row(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    run_id = started_elsewhere(store)
    state = LiveState()
    follower = StoreFollower(store, state, own_worker="this-app:1")
    write(store, Losses(run_id, 1, 0, (2.0, 1.5)))
    follower.poll()
    assert state.run.run_id == run_id and list(state.run.losses) == [2.0, 1.5]
    assert (state.run.device_name, state.run.steps_per_epoch, state.run.total_steps) == ("H100", 3, 6)
    write(store, Losses(run_id, 1, 2, (1.25,)), end(run_id, 1), Losses(run_id, 2, 3, (1.0, 0.75)))
    follower.poll()
    assert list(state.run.losses) == [2.0, 1.5, 1.25, 1.0, 0.75]  # nothing twice
    assert [e.epoch for e in state.run.epochs] == [1] and state.run.epoch == 2
    write(store, Losses(run_id, 2, 5, (0.5,)), end(run_id, 2), RunFinished(run_id, 82.0, 0.5, 2.0))
    follower.poll()
    assert state.run.status == "finished" and len(state.run.losses) == 6 and len(state.run.epochs) == 2


def test_ignores_the_apps_own_runs_and_marks_the_interrupted(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    started_elsewhere(store, worker="this-app:1")
    state = LiveState()
    follower = StoreFollower(store, state, own_worker="this-app:1")
    follower.poll()
    assert state.run is None  # the app's own engine delivers those as events
    other = started_elsewhere(store)
    follower.poll()
    assert state.run.run_id == other
    with store.write():
        store.db.execute("UPDATE runs SET status = 'interrupted', error = 'worker gone' WHERE id = ?", [other])
    follower.poll()
    assert (state.run.status, state.run.error) == ("interrupted", "worker gone")
