"""Training in a child process that the worker supervises: nothing a run does can take the worker down.

A user's model may segfault, call os._exit, hang in its forward or be killed by the kernel's
OOM killer. The worker (the queue, the store, the recorder) stays in the parent; each run trains
in one long-lived child that imported torch once and trains job after job. The child sends the
engine's events up a pipe; the parent records them and sends down what the user asks (stop,
pause). A child that dies ends its run `failed` with the reason ("the training process died:
signal 11 (SIGSEGV)"), a stop or pause the loop has not honoured within GRACE_S is made by
force (the child is killed, the run ends `cancelled` keeping its last recorded checkpoint), and
the next job gets a new child.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...engine.events import EpochEnd, Losses, RunCancelled, RunFailed

GRACE_S = float(os.environ.get("CIFAR_TUI_STOP_GRACE_S", "10"))  # a stop or pause not honoured by then is forced
POLL_S = 0.1


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"signal {-code} ({name})"
    return f"exit status {code}"


class TrainingProcess:
    """The parent's side. `run` trains one job in the child and returns once its ending is sent
    to `emit`; `close` ends the child."""

    def __init__(
        self, data_dir: Path, checkpoint_dir: Path | None, threads: int | None = None, log_path: Path | None = None
    ):
        """log_path: where the child's log goes (the home's cifar-tui.log), never the terminal."""
        self.data_dir, self.checkpoint_dir, self.threads = data_dir, checkpoint_dir, threads
        self.log_path = log_path
        self._context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self._process = None
        self._conn = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        from .log_file import shared_said

        parent, child = self._context.Pipe()
        said = None if self.log_path is None else shared_said(self.log_path)
        self._process = self._context.Process(
            target=serve,
            args=(child, self.data_dir, self.checkpoint_dir, self.threads, self.log_path, said),
            name="cifar-tui-trainer",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent

    def run(
        self,
        job,
        emit: Callable[[Any], None],
        asked: Callable[[], tuple[bool, bool]],
        go_on: Callable[[EpochEnd], bool] | None = None,
    ) -> None:
        """asked() -> (stop asked, pause asked): the user's wishes, polled while the job trains.
        go_on: the verdict on each epoch of a judged job (a search's pruner), which waits for it."""
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            self._conn.send(("train", job))
            step, sent_stop, sent_pause, held, asked_at, failed = 0, False, False, False, None, False
            while True:
                stop, pause = asked()
                if stop and not sent_stop:
                    self._send(("stop",))
                    sent_stop, asked_at = True, time.monotonic()
                if pause != sent_pause and not sent_stop:
                    self._send(("pause", pause))
                    sent_pause, held = pause, False
                    asked_at = time.monotonic() if pause else None
                message = self._receive()
                if message is None:  # the child died
                    code = self._ended()
                    emit(RunFailed(job.run_id, f"the training process died: {describe_exit(code)}"))
                    return
                kind = message[0]
                if kind == "event":
                    event = message[1]
                    failed = failed or isinstance(event, RunFailed)
                    if isinstance(event, Losses):
                        step = event.first_step + len(event.losses)
                    elif isinstance(event, EpochEnd):
                        step = event.step
                    emit(event)
                    if isinstance(event, EpochEnd) and job.judged and event.epoch < job.config.epochs:
                        self._send(("verdict", event.epoch, go_on is None or go_on(event)))
                elif kind == "held":
                    held = message[1]
                elif kind == "done":
                    if failed:  # a model that failed may have left processes, or state, behind: a fresh child
                        self.close()
                    return
                waiting = asked_at is not None and not (sent_pause and held and not sent_stop)
                if waiting and time.monotonic() - asked_at > GRACE_S:
                    what = "stop" if sent_stop else "pause"
                    self._kill()
                    emit(
                        RunCancelled(
                            job.run_id,
                            step,
                            f"stopped by force: its training did not {what} within {GRACE_S:.0f} s "
                            "(a hung forward?); resume continues it from its last completed epoch, if any",
                        )
                    )
                    return

    def _send(self, message) -> None:
        try:
            self._conn.send(message)
        except (OSError, ValueError):
            pass  # the child is gone: the next receive says so

    def _receive(self):
        """The child's next message, ("idle",) when none came within POLL_S, None once it died."""
        try:
            if self._conn.poll(POLL_S):
                return self._conn.recv()
        except (EOFError, OSError):
            return None
        return ("idle",) if self._process.is_alive() else None

    def _ended(self) -> int | None:
        self._process.join(30)  # its pipe is closed: it is dead or dying, only not yet reaped
        code = self._process.exitcode
        self._forget()
        return code

    def _kill(self) -> None:
        self._process.kill()
        self._process.join(5)
        self._forget()

    def _forget(self) -> None:
        """The child is gone: so is every process it started (a user model's Popen, say), which
        would otherwise outlive the run and the worker, reparented to init."""
        end_group(self._process.pid)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    def close(self, timeout: float = 10.0) -> None:
        if self._process is None:
            return
        self._send(("exit",))
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._forget()


def end_group(pid: int | None) -> None:
    """SIGKILL to the process group the training child leads (serve makes it a session leader)."""
    if pid is None or not hasattr(os, "killpg"):
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # nothing of it is left


def serve(
    conn, data_dir: Path, checkpoint_dir: Path | None, threads: int | None, log_path: Path | None, said=None
) -> None:
    """The child: train the jobs it is sent, one at a time, until told to exit or the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which asks for a stop
    if hasattr(os, "setsid"):
        os.setsid()  # a session, and process group, of its own: what its runs start ends with it
    _log_to(log_path, said)
    import torch

    from ...engine.run_control import RunControl, Verdicts
    from ...engine.worker import run_job

    if threads:
        torch.set_num_threads(threads)
    verdicts = Verdicts(lambda: control.stop.is_set())  # the parent judges each epoch it records
    control = RunControl(on_hold=lambda held: _send(conn, ("held", held)), judge=verdicts.wait)
    jobs: list = []
    wake = threading.Event()

    def listen() -> None:  # the parent's requests, while the training thread trains
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                # The parent is gone (killed, say): nothing this process sends can be recorded any
                # more, and a forward that hangs would keep it, and the GPU's memory, forever.
                logging.shutdown()
                end_group(os.getpid())  # this process, and what its runs started
                os._exit(0)
            match message[0]:
                case "train":
                    # Reset here, in the pipe's order: a stop sent right after the job (while the
                    # training thread still imports or loads) must not be cleared when it starts.
                    control.reset()
                    verdicts.clear()
                    jobs.append(message[1])
                    wake.set()
                case "stop":
                    control.stop.set()
                case "pause":
                    control.pause(message[1])
                case "verdict":
                    verdicts.put(*message[1:])
                case "exit":
                    control.stop.set()
                    jobs.append(None)
                    wake.set()
                    return

    threading.Thread(target=listen, name="cifar-tui-trainer-control", daemon=True).start()
    while True:
        wake.wait()
        wake.clear()
        while jobs:
            job = jobs.pop(0)
            if job is None:
                # Everything the child owns is written (the parent records, checkpoints are
                # saved before "done"); torch's interpreter teardown takes a second for nothing.
                logging.shutdown()
                end_group(os.getpid())  # this process, and what its runs started
                os._exit(0)
            run_job(
                job,
                lambda event: _send(conn, ("event", event)),
                control.should_stop,
                data_dir,
                checkpoint_dir,
                go_on=control.go_on,
            )
            _send(conn, ("done",))


def _log_to(path: Path | None, said) -> None:
    """The child's records (a failed run's traceback) into the home's log, as the parent's (said:
    the parent's flag of having said that the log cannot be written); with no file, nowhere:
    Python's last-resort handler would print them on the user's terminal."""
    root = logging.getLogger()
    if path is not None:
        from .log_file import LogFile

        root.addHandler(LogFile(path, said))
    else:
        root.addHandler(logging.NullHandler())
    root.setLevel(logging.INFO)


def _send(conn, message) -> None:
    try:
        conn.send(message)
    except (OSError, ValueError):
        pass  # the parent is gone; the training stops at its next batch (the listener saw EOF)


class ProcessDied(RuntimeError):
    """The child process running a user's code died; the message says how."""


def call_isolated(function: Callable[..., Any], *args: Any, timeout: float = 120.0) -> Any:
    """function(*args) in a child process (`models check` builds a user's model there): its
    result, or ProcessDied when the child dies or takes longer than timeout. Ctrl-C ends it too."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_call, args=(child, function, args), name="cifar-tui-check", daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise ProcessDied(f"it did not finish within {timeout:.0f} s (a forward that hangs?); stopped")
        try:
            result = parent.recv()
        except EOFError:
            process.join(5)
            raise ProcessDied(f"the process that ran it died: {describe_exit(process.exitcode)}") from None
        process.join(5)
        return result
    finally:
        if process.is_alive():
            process.kill()
        parent.close()


def _call(conn, function: Callable[..., Any], args: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send(function(*args))
