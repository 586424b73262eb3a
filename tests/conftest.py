"""The suite's two tiers (ARCHITECTURE.md, "Tests in tiers").

`python -m pytest` runs the fast tier: every test not marked `slow`, each held to the tier's
rules while it runs: no fresh interpreter (a subprocess, a spawned multiprocessing child, so no
Ray either) and no fixed sleep of a second or more in a test's own code. A test that breaks a
rule fails and says to mark it `slow`. `python -m pytest --full` runs every test, the `slow`
ones too, without those rules.
"""

import multiprocessing.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import textual.constants

# No animations (a tab's underline slides for 0.3 s, and a pilot's key press waits for it to
# end): tests look at where things end up. The environment for the processes a test starts; the
# constant for this one, whose Textual read the environment when a plugin imported it.
os.environ["TEXTUAL_ANIMATIONS"] = "none"
textual.constants.TEXTUAL_ANIMATIONS = "none"

TESTS = str(Path(__file__).resolve().parent)
LONGEST_SLEEP_S = 1.0  # a sleep this long in a test's code is a fixed wait: poll a condition instead


def pytest_addoption(parser):
    parser.addoption(
        "--full", action="store_true", help="the full suite: the slow tier (real processes, Ray, faults, snapshots) too"
    )


def pytest_collection_modifyitems(config, items):
    import torch

    if not config.getoption("--full"):
        slow = [item for item in items if "slow" in item.keywords]
        items[:] = [item for item in items if "slow" not in item.keywords]
        config.hook.pytest_deselected(items=slow)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


class FastTierRule(AssertionError):
    """A test of the fast tier did what only the full tier may."""


INTERPRETER = "the fast tier starts no fresh interpreter: mark this test @pytest.mark.slow"


def refuse_interpreter(*args, **kwargs):
    if threading.current_thread() is not threading.main_thread():
        # Refused on a worker's thread: the test itself would only wait for it until its timeout.
        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)
    raise FastTierRule(INTERPRETER)


def fail_the_test(number, frame):
    raise FastTierRule(INTERPRETER)


def is_python(command) -> bool:
    """A Python interpreter, or a script it runs (the installed `cifar-tui` command)."""
    program = command if isinstance(command, (str, bytes, Path)) else command[0]
    if Path(program).name.startswith("python") or Path(program).name == Path(sys.executable).name:
        return True
    found = shutil.which(program)
    try:
        with open(found or program, "rb") as file:
            return file.read(2) == b"#!" and b"python" in file.readline()
    except OSError:
        return False


@pytest.fixture(autouse=True)
def fast_tier_rules(request, monkeypatch):
    if request.config.getoption("--full") or "slow" in request.keywords:
        yield
        return
    execute_child = subprocess.Popen._execute_child

    def no_interpreter(self, args, executable, *rest):
        if is_python(executable or args):
            refuse_interpreter()
        return execute_child(self, args, executable, *rest)  # git, pdflatex and the like are no interpreter

    monkeypatch.setattr(subprocess.Popen, "_execute_child", no_interpreter)
    monkeypatch.setattr(multiprocessing.util, "spawnv_passfds", refuse_interpreter)
    sleep = time.sleep

    def checked_sleep(seconds):
        caller = sys._getframe(1).f_code.co_filename
        if seconds >= LONGEST_SLEEP_S and caller.startswith(TESTS):
            raise FastTierRule(f"a fixed sleep of {seconds} s: wait for a condition, or mark the test slow")
        sleep(seconds)

    monkeypatch.setattr(time, "sleep", checked_sleep)
    handler = signal.signal(signal.SIGUSR1, fail_the_test)
    yield
    signal.signal(signal.SIGUSR1, handler)
