"""Helpers the test modules share, written once."""

import time


def wait_for(predicate, timeout=120, every=0.05):
    """Poll predicate until it returns something true, and return that; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)
    return value


async def wait_until(pilot, predicate, timeout=30.0):
    """wait_for inside an app test: the app goes on while it waits."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.1)
    return value


def cli_process(home, *args, env=None, **kwargs):
    """`cifar-tui ARGS` in a process of its own, on the home folder (stdout and stderr as text pipes)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "CIFAR_TUI_HOME": str(home), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "cifar_tui.tui.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def finish(process, timeout=300):
    """(exit status, stdout, stderr) of a process once it ends."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def query(home, sql, params=()):
    """Rows of the home's store, read with a connection of the test's own."""
    import sqlite3
    from pathlib import Path

    with sqlite3.connect(Path(home) / "runs.db", timeout=30) as conn:
        return conn.execute(sql, params).fetchall()


def committing(emit):
    """An emit that moves each epoch's checkpoint into place right after passing its event on,
    as the recorder does once the event is written."""
    from cifar_tui.engine.checkpoint import commit

    def emit_then_commit(event):
        emit(event)
        if event_temp := getattr(event, "checkpoint_temp", ""):
            commit(event_temp, event.checkpoint)

    return emit_then_commit
