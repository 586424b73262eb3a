"""Searches through real worker processes: trials proposed and trained exactly once, pruned at an
epoch's end by the worker's judge, a killed worker's trial interrupted while the search goes on,
and a pruned trial resumed to its end."""

import json
import signal

import pytest

from tests.helpers import cli_process, finish, query, wait_for
from tests.tui.test_faults import QUICK


def queue_search(home, *args):
    status, out, err = finish(
        cli_process(home, "queue", "add", "--json", *QUICK, "--epochs", "3", "--lr", "1e-4:1e-2", *args)
    )
    assert status == 0, err
    return json.loads(out)


def add_a_trial_nobody_beats(home, name="s1"):
    """A finished trial (one of the search's, numbered -1) that passed ASHA's first rung at 100%:
    every later trial is below it there, and is pruned after its first epoch."""
    query(
        home,
        """INSERT INTO runs (name, status, model, dataset, epochs, config, queue_pos, created_at, sweep, trial,
                             trial_attrs, test_acc, epochs_done)
           VALUES ('best', 'finished', 'seed-cnn', 'synthetic', 3, '{}', 0, 'then', ?, -1,
                   '{"completed_rung_0": 100.0}', 100.0, 3)""",
        (name,),
    )


def trials(home):
    return query(
        home,
        "SELECT id, trial, status, epochs_done, claim, trial_attrs FROM runs WHERE name != 'best' ORDER BY trial",
    )


@pytest.mark.slow
def test_a_pruned_trial_stops_at_its_epoch_with_its_checkpoint_and_resume_trains_it_to_the_end(tmp_path):
    home = tmp_path / "home"
    queued = queue_search(home, "--search", "random", "--trials", "2", "--prune", "asha")
    assert queued == {"sweep": "s1", "ids": [1]}
    add_a_trial_nobody_beats(home)
    status, out, err = finish(cli_process(home, "worker", "--until-empty"))
    assert status == 0, err
    assert "run 1: pruned after epoch 1" in out
    ((run_id, number, state, epochs_done, claim, attrs),) = trials(home)
    assert (run_id, number, state, epochs_done, claim) == (1, 0, "pruned", 1, 1)
    assert json.loads(attrs) == {"completed_rung_0": json.loads(attrs)["completed_rung_0"], "cifar-tui:pruned_at": 1}
    (step,) = query(home, "SELECT step FROM epochs WHERE run_id = 1")[0]
    assert query(home, "SELECT max(step) + 1 FROM losses WHERE run_id = 1") == [(step,)]
    assert len(list((home / "checkpoints" / "1").iterdir())) == 1  # the pruned epoch's, moved into place
    assert json.loads(finish(cli_process(home, "runs", "--json", "status=pruned"))[1])[0]["id"] == 1

    status, out, err = finish(cli_process(home, "resume", "1"))
    assert status == 0, err
    assert query(home, "SELECT status, epochs_done FROM runs WHERE id = 1") == [("finished", 3)]
    assert query(home, "SELECT epoch FROM epochs WHERE run_id = 1 ORDER BY epoch") == [(1,), (2,), (3,)]


@pytest.mark.slow
def test_two_workers_propose_and_train_each_trial_once_and_a_killed_workers_trial_does_not_stop_the_search(
    tmp_path,
):
    home = tmp_path / "home"
    queue_search(home, "--search", "tpe", "--trials", "7", "--parallel", "2", "--prune", "asha")
    add_a_trial_nobody_beats(home)
    first, second = cli_process(home, "worker"), cli_process(home, "worker")
    try:
        wait_for(lambda: len(query(home, "SELECT 1 FROM runs WHERE status = 'running'")) == 2, timeout=120)
        first.send_signal(signal.SIGKILL)  # its trial stays running until someone sees its owner is dead
        first.wait()
        ended = "SELECT count(*) FROM runs WHERE name != 'best' AND status NOT IN ('queued', 'running')"
        wait_for(lambda: query(home, ended) == [(6,)], timeout=240)
    finally:
        for worker in (first, second):
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        finish(second)
    rows = trials(home)
    assert [row[1] for row in rows] == list(range(6))  # each trial proposed once
    assert all(row[4] == 1 for row in rows)  # and claimed once
    statuses = sorted(row[2] for row in rows)
    assert statuses.count("interrupted") == 1 and statuses.count("pruned") == 5
    for run_id, _, status, epochs_done, _, _ in rows:
        if status == "pruned":
            assert epochs_done == 1
            assert query(home, "SELECT max(epoch) FROM losses WHERE run_id = ?", (run_id,)) == [(1,)]


def test_a_worker_is_not_idle_while_its_last_run_s_ending_is_unwritten():
    """A write lock held past the recorder's patience leaves the last trial reading as running:
    the search proposes nothing yet, and `--until-empty` must wait for it rather than exit."""
    import threading
    from types import SimpleNamespace

    from cifar_tui.tui.worker.local_worker import LocalWorker

    written = {"ending": False}
    worker = SimpleNamespace(
        _last=7,
        idle=threading.Event(),
        recorder=SimpleNamespace(settled=lambda run_id, timeout: written["ending"]),
        jobs=lambda: None,  # nothing claimable: the trial in flight fills the search's K
    )
    assert LocalWorker._next_job(worker) is None and not worker.idle.is_set() and worker._last == 7
    written["ending"] = True  # the lock is gone and the run's end is written
    assert LocalWorker._next_job(worker) is None and worker.idle.is_set() and worker._last is None


@pytest.mark.slow
def test_a_search_held_off_by_a_lock_past_the_store_s_patience_says_so_once_and_proposes_each_trial_once(tmp_path):
    """Another program holds the write lock past the store's 10 s while a trial ends: the worker's
    next claim, which would propose the next trial, is refused. It says so in one line, waits,
    and once the lock is gone the search goes on: every trial proposed, claimed and trained once."""
    import sqlite3
    import time

    home = tmp_path / "home"
    queue_search(home, "--search", "random", "--trials", "3")
    worker = cli_process(home, "worker", "--until-empty")
    wait_for(lambda: query(home, "SELECT count(*) FROM epochs WHERE run_id = 1") == [(1,)], timeout=120)
    locker = sqlite3.connect(home / "runs.db", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    held_from = time.monotonic()
    # trial 0 ends meanwhile; its ending waits in the recorder, the worker waits 10 s for it, then
    # claims anyway, and that claim (which would propose trial 1) gives up after BUSY_TIMEOUT_S
    time.sleep(24)
    locker.execute("ROLLBACK")
    locker.close()
    status, out, err = finish(worker, timeout=240)
    assert status == 0 and time.monotonic() - held_from > 24, err
    notes = [line for line in err.splitlines() if line.startswith("cifar-tui: note:")]
    assert notes == [
        "cifar-tui: note: the store stayed locked by another program past 10 s; the queue waits, "
        "and claims and proposes the next run once it can write"
    ], err
    rows = trials(home)
    assert [(number, state, claim) for _, number, state, _, claim, _ in rows] == [(n, "finished", 1) for n in range(3)]
    for run_id, *_ in rows:
        assert query(home, "SELECT count(DISTINCT step), count(*) FROM losses WHERE run_id = ?", (run_id,)) == [
            (45, 45)
        ]
        assert query(home, "SELECT epoch FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,)) == [(1,), (2,), (3,)]
    assert query(home, "PRAGMA integrity_check") == [("ok",)]
