"""Fault injection with real processes: kill -9 at chosen points, races between processes, a lock
held by another program, Ctrl-C, a full disk. What must hold: every run trained exactly once,
every step recorded exactly once, nothing stored lost, one line for the user."""

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from cifar_tui.store.runs import RunStore
from tests.helpers import cli_process, finish, query, wait_for

QUICK = ("--dataset", "synthetic", "--device", "cpu", "--limit-batches", "15")


def losses(home, run_id):
    return query(home, "SELECT step, loss FROM losses WHERE run_id = ? ORDER BY step", (run_id,))


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """One uninterrupted 3-epoch run: what every interrupted-and-resumed run must equal."""
    home = tmp_path_factory.mktemp("straight")
    status, _, err = finish(cli_process(home, "run", *QUICK, "--epochs", "3"))
    assert status == 0, err
    return losses(home, 1), query(home, "SELECT epoch, step FROM epochs ORDER BY epoch")


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    [
        "checkpoint-written:1",
        "epoch-recorded:1",
        "checkpoint-moved:1",
        "checkpoint-written:2",
        "epoch-recorded:2",
        "checkpoint-moved:2",
    ],
)
def test_kill_9_at_every_checkpoint_step_then_resume_records_each_step_once(tmp_path, straight, point):
    home, pauses = tmp_path / "home", tmp_path / "pauses"
    pauses.mkdir()
    run = cli_process(
        home, "run", *QUICK, "--epochs", "3", env={"CIFAR_TUI_PAUSE_AT": point, "CIFAR_TUI_PAUSE_DIR": str(pauses)}
    )
    wait_for(lambda: any(pauses.iterdir()) or run.poll() is not None)
    assert run.poll() is None, run.communicate()
    run.send_signal(signal.SIGKILL)
    run.wait()
    status, _, err = finish(cli_process(home, "resume", "1"))
    assert status == 0, err
    assert query(home, "SELECT status, epochs_done FROM runs") == [("finished", 3)]
    expected_losses, expected_epochs = straight
    assert query(home, "SELECT epoch, step FROM epochs ORDER BY epoch") == expected_epochs
    recorded = losses(home, 1)
    assert [step for step, _ in recorded] == list(range(45))  # every step exactly once
    assert [loss for _, loss in recorded] == pytest.approx([loss for _, loss in expected_losses], rel=1e-4)
    assert not list((home / "checkpoints" / "1").glob("*.tmp"))


def interrupted_run(home):
    """A run that trained one epoch of three, then its process was killed."""
    run = cli_process(home, "run", *QUICK, "--epochs", "3")
    wait_for(lambda: (home / "checkpoints" / "1" / "last.pt").exists())
    run.send_signal(signal.SIGKILL)
    run.wait()
    RunStore(home / "runs.db").close()  # opening the store marks it interrupted


@pytest.mark.slow
def test_two_resumes_started_together_train_the_run_once(tmp_path):
    interrupted_run(tmp_path)
    both = [cli_process(tmp_path, "resume", "1") for _ in range(2)]
    results = [finish(p) for p in both]
    assert sorted(status for status, _, _ in results) in ([0, 1], [0, 2]), results
    loser = next(err for status, _, err in results if status != 0)
    assert "run 1 is running by" in loser and len(loser.strip().splitlines()) == 1, loser
    assert sum("run 1 on cpu" in err for _, _, err in results) == 1  # one process trained
    assert query(tmp_path, "SELECT status, epochs_done FROM runs") == [("finished", 3)]
    assert query(tmp_path, "SELECT count(*), count(DISTINCT step) FROM losses") == [(45, 45)]


@pytest.mark.slow
def test_a_polling_worker_never_takes_a_run_that_resume_claims(tmp_path):
    interrupted_run(tmp_path)
    worker = cli_process(tmp_path, "worker")
    time.sleep(1)
    status, _, err = finish(cli_process(tmp_path, "resume", "1"))
    worker.send_signal(signal.SIGINT)
    worker_out, _ = worker.communicate(timeout=60)
    assert status == 0, err
    assert "run 1: started" not in worker_out
    assert query(tmp_path, "SELECT count(*), count(DISTINCT step) FROM losses") == [(45, 45)]


@pytest.mark.slow
def test_resume_of_a_run_a_worker_trains_says_who_has_it(tmp_path):
    interrupted_run(tmp_path)
    store = RunStore(tmp_path / "runs.db")
    assert store.requeue(1)  # `r` in the app: the queue's worker takes it
    store.close()
    worker = cli_process(tmp_path, "worker", "--until-empty")
    wait_for(lambda: query(tmp_path, "SELECT status FROM runs") == [("running",)])
    status, _, err = finish(cli_process(tmp_path, "resume", "1"))
    assert status in (1, 2) and "run 1 is running by" in err and len(err.strip().splitlines()) == 1
    assert finish(worker)[0] == 0
    assert query(tmp_path, "SELECT status, epochs_done FROM runs") == [("finished", 3)]


@pytest.mark.slow
def test_deleting_the_newest_run_then_running_trains_a_new_run_from_scratch(tmp_path):
    interrupted_run(tmp_path)
    status, _, err = finish(cli_process(tmp_path, "delete", "1", "--yes"))
    assert status == 0, err
    assert not (tmp_path / "checkpoints" / "1").exists()
    status, _, err = finish(cli_process(tmp_path, "run", *QUICK, "--epochs", "1"))
    assert status == 0, err
    assert query(tmp_path, "SELECT id, status, epochs_done FROM runs") == [(2, "finished", 1)]
    assert query(tmp_path, "SELECT min(step), count(*) FROM losses") == [(0, 15)]


@pytest.mark.slow
def test_delete_refuses_a_running_run_and_asks_without_yes(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    first = store.enqueue({"model": "seed-cnn", "dataset": "synthetic", "epochs": 1})
    running = store.enqueue({"model": "seed-cnn", "dataset": "synthetic", "epochs": 1}, worker="elsewhere:1")
    store.close()
    status, _, err = finish(cli_process(tmp_path, "delete", str(running), "--yes"))
    assert status == 2 and f"run {running} is running; cancel it first" in err
    status, _, err = finish(cli_process(tmp_path, "delete", str(first)))  # no terminal: no one to ask
    assert status == 2 and "add --yes" in err
    assert query(tmp_path, "SELECT count(*) FROM runs") == [(2,)]


def start_training(home, *args, env=None):
    run = cli_process(home, "run", *args, env=env)

    def training():
        try:
            return query(home, "SELECT count(*) FROM losses") != [(0,)]
        except sqlite3.OperationalError:
            return False

    wait_for(training)
    return run


@pytest.mark.slow
def test_a_lock_held_30_s_by_another_program_loses_no_step(tmp_path):
    run = start_training(tmp_path, *QUICK[:-2], "--limit-batches", "150", "--epochs", "2")
    holder = sqlite3.connect(tmp_path / "runs.db")
    holder.execute("BEGIN IMMEDIATE")  # another program writing: nobody else may write for 30 s
    time.sleep(30)
    holder.rollback()
    holder.close()
    status, _, err = finish(run)
    assert status == 0, err
    assert query(tmp_path, "SELECT status, epochs_done FROM runs") == [("finished", 2)]
    assert query(tmp_path, "SELECT count(*), min(step), max(step) FROM losses") == [(300, 0, 299)]


@pytest.mark.slow
def test_a_store_that_stays_locked_stops_the_run_and_fails_it_with_the_reason(tmp_path):
    run = start_training(
        tmp_path, *QUICK[:-2], "--limit-batches", "400", "--epochs", "20", env={"CIFAR_TUI_STORE_PATIENCE_S": "3"}
    )
    holder = sqlite3.connect(tmp_path / "runs.db")
    holder.execute("BEGIN IMMEDIATE")
    time.sleep(16)  # past the patience, and past one busy timeout (10 s) of the last attempt
    holder.rollback()
    holder.close()
    status, _, err = finish(run)
    assert status == 1
    assert err.strip().splitlines()[-1].startswith("cifar-tui: run 1 failed:") and "locked" in err
    ((status_, error, epochs_done),) = query(tmp_path, "SELECT status, error, epochs_done FROM runs")
    assert status_ == "failed" and "stayed locked by another program" in error and epochs_done < 20
    count, last = query(tmp_path, "SELECT count(*), max(step) FROM losses")[0]
    assert count == last + 1  # what was recorded has no hole


@pytest.mark.slow
@pytest.mark.parametrize("number, exit_status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_on_run_cancels_it_within_2_s(tmp_path, number, exit_status):
    run = start_training(tmp_path, *QUICK[:-2], "--epochs", "50")
    asked = time.monotonic()
    run.send_signal(number)
    status, _, err = finish(run, timeout=60)
    assert time.monotonic() - asked < 2
    assert status == exit_status, err
    assert "terminate called" not in err and "Traceback" not in err
    assert query(tmp_path, "SELECT status FROM runs") == [("cancelled",)]


@pytest.fixture
def tiny_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("this machine cannot mount a tmpfs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)])


@pytest.mark.slow
def test_a_full_disk_fails_the_run_with_one_line_and_frees_what_it_wrote(tmp_path, tiny_disk):
    # seed-resnet's checkpoint (weights and Adam's moments, ~2 MB) cannot fit on a 1 MB disk.
    status, out, err = finish(
        cli_process(tiny_disk, "run", "--model", "seed-resnet", *QUICK[:-2], "--limit-batches", "1", "--epochs", "2")
    )
    assert status == 1
    assert err.strip().splitlines()[-1] == (
        f"cifar-tui: run 1 failed: no space left on {tiny_disk}/checkpoints/1; free some space, then resume the run"
    )
    assert "Traceback" not in err
    assert not list((tiny_disk / "checkpoints").rglob("*.tmp"))
    status, out, err = finish(cli_process(tiny_disk, "runs", "--json"))  # reading still works
    assert status == 0, err
    (row,) = json.loads(out)
    assert row["status"] == "failed" and "no space left" in row["error"]


@pytest.mark.slow
def test_pause_from_another_shell_holds_a_run_and_off_lets_it_go_on(tmp_path):
    run = start_training(tmp_path, *QUICK[:-2], "--epochs", "50")
    status, out, err = finish(cli_process(tmp_path, "pause", "1"))
    assert status == 0 and "holds it at its next batch" in out, err
    time.sleep(1.5)  # a poll (0.5 s) and the chunk in flight
    held = query(tmp_path, "SELECT count(*) FROM losses")
    time.sleep(1.5)
    assert query(tmp_path, "SELECT count(*) FROM losses") == held
    assert query(tmp_path, "SELECT status FROM runs") == [("running",)]  # alive, heartbeat and all
    assert finish(cli_process(tmp_path, "pause", "1", "--off"))[0] == 0
    wait_for(lambda: query(tmp_path, "SELECT count(*) FROM losses") != held, timeout=30)
    run.send_signal(signal.SIGINT)
    assert finish(run)[0] == 130
    status, _, err = finish(cli_process(tmp_path, "pause", "1"))
    assert status == 2 and "only a running run pauses" in err
