"""Nothing a run does can take its worker down (issue 22, defects 1 and 2): a user's model that
segfaults, exits or hangs, with a good run queued behind it, for the plain worker, the device
pool, `run` and `models check`, all as real processes."""

import json
import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from tests.helpers import cli_process, finish, query, wait_for

BAD_MODELS = textwrap.dedent(
    """
    import os, time
    from torch import nn

    class Exits(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            os._exit(3)

    class Segfaults(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            import ctypes
            ctypes.string_at(0)

    class Hangs(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, num_classes))
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls > 3:
                open("hung", "w").close()  # in the working directory: the test waits for it
                time.sleep(10**6)
            return self.net(x)
    """
)
TINY = ("--dataset", "synthetic", "--device", "cpu", "--epochs", "1", "--limit-batches", "3")
SEGFAULT = "the training process died: signal 11 (SIGSEGV)"


@pytest.fixture
def home(tmp_path):
    (tmp_path / "bad.py").write_text(BAD_MODELS)
    return tmp_path / "home"


def queue(home, *args):
    status, _, err = finish(cli_process(home, "queue", "add", *TINY, *args, cwd=home.parent))
    assert status == 0, err


def outcomes(home):
    return query(home, "SELECT id, status, error FROM runs ORDER BY id")


@pytest.mark.slow
def test_a_worker_fails_a_crashing_run_and_trains_the_next(home):
    queue(home, "--model", "bad.py:Segfaults")
    queue(home, "--model", "bad.py:Exits")
    queue(home, "--preset", "seed-cnn")
    status, out, err = finish(cli_process(home, "worker", "--until-empty"), timeout=180)
    assert status == 0, err
    assert outcomes(home) == [
        (1, "failed", SEGFAULT),
        (2, "failed", "the training process died: exit status 3"),
        (3, "finished", None),
    ]
    assert f"run 1: failed: {SEGFAULT}" in out and "Traceback" not in err


@pytest.mark.slow
def test_a_device_pool_fails_a_crashing_run_and_trains_the_rest(home):
    queue(home, "--model", "bad.py:Segfaults")
    queue(home, "--preset", "seed-cnn", "--seed", "0..1")
    status, out, err = finish(cli_process(home, "worker", "--devices", "cpu,cpu", "--until-empty"), timeout=240)
    assert status == 0, err
    assert outcomes(home) == [(1, "failed", SEGFAULT), (2, "finished", None), (3, "finished", None)]
    assert "keeps stopping" not in out


@pytest.mark.slow
def test_run_of_a_crashing_model_fails_in_one_line(home):
    status, _, err = finish(cli_process(home, "run", "--model", "bad.py:Segfaults", *TINY, cwd=home.parent))
    assert status == 1
    assert err.strip().splitlines() == [f"cifar-tui: run 1 failed: {SEGFAULT}"]


@pytest.mark.slow
def test_models_check_of_a_crashing_model_fails_in_one_line(home):
    status, _, err = finish(cli_process(home, "models", "check", "bad.py:Exits", "--device", "cpu", cwd=home.parent))
    assert status == 1
    assert err.strip().splitlines() == [
        "cifar-tui: error: model: bad.py:Exits@" + err.split("@")[1].split(":")[0] + ": the process that ran it "
        "died: exit status 3"
    ]


@pytest.mark.slow
def test_models_check_of_a_hanging_model_stops_at_its_timeout_in_one_line(home):
    check = cli_process(home, "models", "check", "bad.py:Hangs", "--device", "cpu", "--timeout", "5", cwd=home.parent)
    status, _, err = finish(check, timeout=60)
    assert status == 1
    (line,) = err.strip().splitlines()
    assert line.endswith("it did not finish within 5 s (a forward that hangs?); stopped"), line


@pytest.mark.slow
def test_cancel_stops_a_hung_forward_by_force_and_the_queue_goes_on(home):
    queue(home, "--model", "bad.py:Hangs")
    queue(home, "--preset", "seed-cnn")
    worker = cli_process(home, "worker", "--until-empty", cwd=home.parent, env={"CIFAR_TUI_STOP_GRACE_S": "2"})
    wait_for(lambda: (home.parent / "hung").exists(), timeout=120)  # its fourth forward hangs
    asked = time.monotonic()
    status, out, err = finish(cli_process(home, "cancel", "1", env={"CIFAR_TUI_STOP_GRACE_S": "2"}))
    assert status == 0, err
    assert out.splitlines()[-1].startswith("run 1 cancelled: stopped by force: its training did not stop within 2 s")
    assert time.monotonic() - asked < 15
    assert finish(worker, timeout=120)[0] == 0
    (first, second) = outcomes(home)
    assert first[1] == "cancelled" and second[1:] == ("finished", None)
    status, out, _ = finish(cli_process(home, "runs", "--json"))
    assert json.loads(out)[-1]["status"] == "cancelled"


@pytest.mark.slow
def test_ctrl_c_on_run_stops_a_hung_forward_by_force(home):
    run = cli_process(
        home, "run", "--model", "bad.py:Hangs", *TINY, cwd=home.parent, env={"CIFAR_TUI_STOP_GRACE_S": "2"}
    )
    wait_for(lambda: (home.parent / "hung").exists(), timeout=120)  # its fourth forward hangs
    asked = time.monotonic()
    run.send_signal(signal.SIGINT)
    status, _, err = finish(run, timeout=60)
    assert status == 130 and time.monotonic() - asked < 10, err
    assert "Traceback" not in err
    ((state, reason),) = query(home, "SELECT status, error FROM runs")
    assert state == "cancelled" and reason.startswith("stopped by force")


def children(pid):
    """The pids whose parent is pid (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rpartition(")")[2].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


@pytest.mark.slow
def test_a_training_process_killed_like_the_oom_killer_does_fails_its_run_only(home):
    queue(home, "--preset", "seed-cnn", "--epochs", "50", "--limit-batches", "30")
    queue(home, "--preset", "seed-cnn")
    worker = cli_process(home, "worker", "--until-empty")
    wait_for(lambda: query(home, "SELECT count(*) FROM losses WHERE run_id = 1") != [(0,)], timeout=120)
    (trainer,) = [pid for pid in children(worker.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    os.kill(trainer, signal.SIGKILL)  # (its other child is multiprocessing's resource tracker)
    status, out, err = finish(worker, timeout=180)
    assert status == 0, err
    assert outcomes(home) == [
        (1, "failed", "the training process died: signal 9 (SIGKILL)"),
        (2, "finished", None),
    ], out


@pytest.mark.slow
def test_a_stop_asked_before_the_training_process_is_ready_is_honoured_not_forced(tmp_path):
    """The stop reaches the child right after the job, while it still imports torch: starting the
    job must not clear it (the run would train on until GRACE_S and end `stopped by force`)."""
    from cifar_tui.engine.config import make_config
    from cifar_tui.engine.events import RunCancelled
    from cifar_tui.engine.worker import Job
    from cifar_tui.tui.worker.training_process import TrainingProcess

    trainer = TrainingProcess(tmp_path, None)
    events = []
    try:
        job = Job(1, make_config(dataset="synthetic", device="cpu", epochs=50, limit_batches=100))
        trainer.run(job, events.append, lambda: (True, False))
    finally:
        trainer.close()
    ending = events[-1]
    assert isinstance(ending, RunCancelled) and not ending.reason, ending  # not "stopped by force"


@pytest.mark.slow
def test_a_training_process_whose_worker_was_killed_exits_even_with_a_hung_forward(home):
    queue(home, "--model", "bad.py:Hangs")
    worker = cli_process(home, "worker", cwd=home.parent)
    wait_for(lambda: (home.parent / "hung").exists(), timeout=120)  # its fourth forward hangs
    (trainer,) = [pid for pid in children(worker.pid) if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    wait_for(lambda: not Path(f"/proc/{trainer}").exists() or b"Z" in _state(trainer), timeout=20)


def _state(pid) -> bytes:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0]
    except OSError:
        return b"Z"


LEAVES_A_CHILD = textwrap.dedent(
    """
    import subprocess, sys
    from torch import nn

    class LeavesAChild(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            open("child.pid", "w").write(str(child.pid))
            raise RuntimeError("a model that fails after starting a process")
    """
)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"  # a zombie is dead, waiting to be reaped
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_a_user_model_s_child_process_ends_with_its_run_and_the_queue_goes_on(home):
    (home.parent / "leaves.py").write_text(LEAVES_A_CHILD)
    queue(home, "--model", "leaves.py:LeavesAChild")
    queue(home, "--preset", "seed-cnn")
    worker = cli_process(home, "worker", cwd=home.parent)
    try:
        wait_for(lambda: [row[1] for row in outcomes(home)] == ["failed", "finished"], timeout=180)
        pid = int((home.parent / "child.pid").read_text())
        wait_for(lambda: not alive(pid), timeout=10)  # ended with the run, not with the worker
        assert worker.poll() is None
    finally:
        worker.terminate()
        finish(worker)
    assert "a model that fails after starting a process" in outcomes(home)[0][2]
