"""Whole processes, killed and racing, on one store: what users do to long runs over SSH."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from cifar_tui.store.runs import RunStore
from tests.helpers import cli_process, query, wait_for

QUICK = ("--dataset", "synthetic", "--device", "cpu", "--limit-batches", "60")


@pytest.mark.slow
def test_kill_9_after_an_epoch_then_resume(tmp_path):
    run = cli_process(tmp_path, "run", *QUICK, "--epochs", "4")

    def first_epoch_done():
        try:
            return query(tmp_path, "SELECT epochs_done FROM runs WHERE id = 1") == [(1,)]
        except sqlite3.OperationalError:
            return False

    wait_for(first_epoch_done)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert query(tmp_path, "PRAGMA integrity_check") == [("ok",)]
    store = RunStore(tmp_path / "runs.db")  # opening the store notices the dead owner
    row = store.run(1)
    assert row["status"] == "interrupted" and row["epochs_done"] >= 1
    store.close()
    resumed = cli_process(tmp_path, "resume", "1")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert query(tmp_path, "SELECT status, epochs_done FROM runs") == [("finished", 4)]
    assert query(tmp_path, "SELECT epoch FROM epochs ORDER BY epoch") == [(1,), (2,), (3,), (4,)]
    assert query(tmp_path, "SELECT count(*), min(step), max(step) FROM losses") == [(240, 0, 239)]


@pytest.mark.slow
def test_two_workers_and_queue_adds_share_one_store(tmp_path):
    first = cli_process(tmp_path, "queue", "add", *QUICK, "--epochs", "1")
    assert first.wait() == 0  # the store exists before the workers start
    workers = [cli_process(tmp_path, "worker") for _ in range(2)]
    adders = [
        cli_process(tmp_path, "queue", "add", *QUICK, "--epochs", "1", "--limit-batches", str(5 + i)) for i in range(7)
    ]
    for adder in adders:
        _, err = adder.communicate(timeout=60)
        assert adder.returncode == 0, err
    wait_for(lambda: query(tmp_path, "SELECT count(*) FROM runs WHERE status = 'finished'") == [(8,)], timeout=300)
    logs = []
    for worker in workers:
        worker.send_signal(signal.SIGINT)
        out, err = worker.communicate(timeout=60)
        logs.append(out + err)
    assert not any("locked" in log for log in logs), logs
    started = [
        line.split(":")[0] for log in logs for line in log.splitlines() if line.endswith(")") and "started" in line
    ]
    assert sorted(started) == sorted(f"run {i}" for i in range(1, 9))  # each run trained exactly once
    # Every run recorded exactly its own steps (the adders raced, so ids follow no order).
    counts = query(
        tmp_path,
        "SELECT json_extract(config, '$.limit_batches'), (SELECT count(*) FROM losses WHERE run_id = r.id) FROM runs r",
    )
    assert sorted(counts) == sorted([(60, 60)] + [(5 + i, 5 + i) for i in range(7)])


@pytest.mark.slow
def test_a_locked_database_waits_then_says_so(tmp_path):
    RunStore(tmp_path / "runs.db").close()
    holder = sqlite3.connect(tmp_path / "runs.db")
    holder.execute("BEGIN EXCLUSIVE")
    env = {**os.environ, "CIFAR_TUI_HOME": str(tmp_path)}
    code = "import cifar_tui.store.runs as runs; runs.BUSY_TIMEOUT_S = 0.5; from cifar_tui.tui.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "queue", "add", "--dataset", "synthetic"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    holder.rollback()
    assert result.returncode == 1
    assert "locked by another program for 0.5 s" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_cancel_from_another_shell_stops_a_running_run(tmp_path):
    run = cli_process(tmp_path, "run", "--dataset", "synthetic", "--device", "cpu", "--epochs", "50")

    def training():
        try:
            return query(tmp_path, "SELECT count(*) FROM losses") != [(0,)]
        except sqlite3.OperationalError:
            return False

    wait_for(training)
    asked = time.monotonic()
    cancel = cli_process(tmp_path, "cancel", "1")
    out, err = cancel.communicate(timeout=60)
    assert cancel.returncode == 0 and out.splitlines()[-1] == "run 1 cancelled", err
    run.communicate(timeout=60)
    assert run.returncode == 1  # the run did not finish
    assert time.monotonic() - asked < 10  # a poll is 0.5 s; the rest is process start-up
    assert query(tmp_path, "SELECT status FROM runs") == [("cancelled",)]


@pytest.mark.slow
def test_cancel_of_a_queued_or_unknown_run(tmp_path):
    assert cli_process(tmp_path, "queue", "add", "--dataset", "synthetic").wait() == 0
    cancel = cli_process(tmp_path, "cancel", "1")
    assert cancel.communicate(timeout=60)[0] == "run 1 cancelled\n"
    again = cli_process(tmp_path, "cancel", "1")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 2 and "run 1 is cancelled; only queued or running runs cancel" in err


@pytest.mark.slow
def test_the_apps_engine_process_stops_when_the_app_dies(tmp_path):
    """The app's child worker (--with-parent) must not outlive the app and keep claiming runs."""
    RunStore(tmp_path / "runs.db").close()
    cli_process(tmp_path, "queue", "add", *QUICK, "--epochs", "50").wait()
    # A stand-in for the app: starts the worker as EngineProcess does, then dies without a word.
    app = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
import os, subprocess, sys, time
from cifar_tui.tui.worker.spawn import spawn_args
worker = subprocess.Popen(spawn_args({str(tmp_path)!r}, "--with-parent", str(os.getpid())), start_new_session=True)
print(worker.pid, flush=True)
time.sleep(600)
""",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    worker_pid = int(app.stdout.readline())
    wait_for(lambda: query(tmp_path, "SELECT status FROM runs WHERE id = 1") == [("running",)])
    app.send_signal(signal.SIGKILL)
    app.wait()
    # Interrupted, not cancelled: the user asked for nothing; `resume` continues it.
    wait_for(lambda: query(tmp_path, "SELECT status FROM runs WHERE id = 1") == [("interrupted",)], timeout=30)

    def gone():  # exited: no such process, or a zombie nobody has reaped yet
        try:
            with open(f"/proc/{worker_pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            return True

    wait_for(gone, timeout=30)
