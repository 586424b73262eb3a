"""A worker frozen for longer than a heartbeat's patience (Ctrl-Z, a suspended laptop): on its
own host it keeps its run, and a worker whose run was taken from it anyway (judged dead by its
heartbeat, as an owner on another host is) writes nothing more to it (issue 22, defect 3)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.helpers import cli_process, finish, query, wait_for

STALE = {"CIFAR_TUI_STALE_AFTER_S": "2"}  # a silent owner on another host is dead after 2 s
RUN = ("--preset", "seed-cnn", "--dataset", "synthetic", "--device", "cpu", "--epochs", "3", "--limit-batches", "15")


def frozen_worker(home, log, seconds=5.0):
    status, _, err = finish(cli_process(home, "queue", "add", *RUN))
    assert status == 0, err
    worker = subprocess.Popen(
        [sys.executable, "-m", "cifar_tui.tui.cli", "worker", "--until-empty"],
        env={**os.environ, "CIFAR_TUI_HOME": str(home), **STALE},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a shell job: Ctrl-Z stops all of it
    )
    wait_for(lambda: query(home, "SELECT count(*) FROM losses") != [(0,)], timeout=120)
    os.killpg(worker.pid, signal.SIGSTOP)
    time.sleep(seconds)
    return worker


@pytest.mark.slow
def test_a_frozen_worker_keeps_its_run_on_its_own_host_and_finishes_it(tmp_path):
    home, log = tmp_path / "home", open(tmp_path / "worker.log", "w")
    worker = frozen_worker(home, log, seconds=65)  # past a minute: the default patience with a silent owner
    try:
        status, out, err = finish(cli_process(home, "runs"))  # a command that marks the dead
        assert status == 0 and query(home, "SELECT status FROM runs") == [("running",)]
        status, _, err = finish(cli_process(home, "resume", "1"))
        assert status != 0 and "run 1 is running by" in err
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
    assert worker.wait(timeout=120) == 0
    assert query(home, "SELECT status FROM runs") == [("finished",)]
    assert query(home, "SELECT count(*), count(DISTINCT step) FROM losses") == [(45, 45)]


@pytest.mark.slow
def test_a_worker_that_lost_its_run_writes_nothing_more_to_it(tmp_path):
    home, log = tmp_path / "home", open(tmp_path / "worker.log", "w")
    worker = frozen_worker(home, log)
    try:
        # What `mark_stale` does to the run of an owner on another host that fell silent (on
        # this host a live pid keeps its run, so the test says it by hand):
        with sqlite3.connect(home / "runs.db") as db:
            db.execute("UPDATE runs SET status = 'interrupted', error = 'its worker stopped answering'")
        status, _, err = finish(cli_process(home, "resume", "1"), timeout=180)
        assert status == 0, err
        recorded = (
            query(home, "SELECT step, loss FROM losses ORDER BY step"),
            query(home, "SELECT epoch, test_acc FROM epochs ORDER BY epoch"),
            query(home, "SELECT status, worker, finished_at, test_acc FROM runs"),
        )
        assert recorded[2][0][0] == "finished" and len(recorded[0]) == 45
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
    assert worker.wait(timeout=120) == 0
    assert (
        query(home, "SELECT step, loss FROM losses ORDER BY step"),
        query(home, "SELECT epoch, test_acc FROM epochs ORDER BY epoch"),
        query(home, "SELECT status, worker, finished_at, test_acc FROM runs"),
    ) == recorded
    said = (tmp_path / "worker.log").read_text()
    assert said.count("run 1: this worker lost the run (it is finished now") == 1, said
