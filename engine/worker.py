"""The engine thread: takes runs from a job source and trains them one at a time."""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import CheckpointError
from .config import RunConfig
from .data import Dataset, DatasetUnavailable
from .device import DeviceUnavailable
from .eval_sets import EvalSetError
from .events import EpochEnd, Event, RunFailed
from .loss_stream import Diverged
from .run_control import RunControl
from .train import train
from .user_model import UserModelError, user_traceback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    run_id: int
    config: RunConfig
    judged: bool = False  # a search's trial: its pruner judges each epoch's end (RunControl.go_on)


def describe_error(error: BaseException, config: RunConfig) -> str:
    """One line for the user: what happened and what to do."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return f"CUDA out of memory at batch size {config.batch_size}; try a smaller --batch-size"
    if isinstance(error, Diverged):
        return f"diverged: {error}"
    if isinstance(error, (DatasetUnavailable, DeviceUnavailable, CheckpointError, UserModelError, EvalSetError)):
        return str(error)
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return f"no space left on {error.filename or 'the disk'}; free some space, then resume the run"
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    return f"{type(error).__name__}: {first_line}"


EXPECTED = (
    torch.cuda.OutOfMemoryError,
    Diverged,
    DatasetUnavailable,
    DeviceUnavailable,
    CheckpointError,
    UserModelError,
)


def error_detail(error: BaseException, config: RunConfig) -> str:
    """The traceback a user can act on: their model file's frames (none for the engine's own
    expected failures, whose one line says it all)."""
    if isinstance(error, UserModelError):
        return error.detail
    if config.model_source and not isinstance(error, EXPECTED):
        return user_traceback(error)
    return ""


def run_job(
    job: Job,
    emit: Callable[[Event], None],
    should_stop: Callable[[], bool],
    data_dir: Path,
    checkpoint_dir: Path | None = None,
    data: Dataset | None = None,
    go_on: Callable[[EpochEnd], bool] | None = None,
) -> None:
    """Train one job; an exception becomes a RunFailed event instead of escaping.
    data: the dataset, already loaded (a cluster node gets it from the dispatcher).
    go_on: the verdict on a judged job's epoch (RunControl.go_on)."""
    try:
        train(
            job.run_id,
            job.config,
            emit,
            should_stop,
            data_dir,
            data,
            checkpoint_dir=checkpoint_dir,
            go_on=go_on if job.judged else None,
        )
    except Exception as error:
        log.log(
            logging.INFO if isinstance(error, EXPECTED) else logging.ERROR, "run %s failed", job.run_id, exc_info=True
        )
        emit(RunFailed(job.run_id, describe_error(error, job.config), error_detail(error, job.config)))
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class Worker:
    """A thread that asks `next_job` for work, trains it, and asks again.

    `next_job` is called on the worker's own thread, so it may open its own store connection;
    it returns None when there is nothing to do (an empty queue, or a paused one).
    """

    def __init__(
        self,
        next_job: Callable[[], Job | None],
        emit: Callable[[Event], None],
        data_dir: Path,
        idle_wait_s: float = 0.5,
        checkpoint_dir: Path | None = None,
        must_stop: Callable[[], bool] = lambda: False,
        runner: Callable[[Job, Callable[[Event], None], RunControl], None] | None = None,
        judge: Callable[[EpochEnd], bool] | None = None,
    ):
        """must_stop: stop the current run at its next batch (the store stopped taking writes).
        runner: trains one job (default: run_job on this thread; the command line's workers train
        in a supervised child process, tui/worker/training_process.py).
        judge: whether a search's trial goes on after an epoch (False: its pruner stops it)."""
        self._runner = runner or (
            lambda job, emit, control: run_job(
                job, emit, control.should_stop, data_dir, checkpoint_dir, go_on=control.go_on
            )
        )
        self._next_job = next_job
        self._emit = emit
        self._data_dir = data_dir
        self._checkpoint_dir = checkpoint_dir
        self._idle_wait_s = idle_wait_s
        self._control = RunControl(must_stop, judge=judge)
        self._closing = threading.Event()
        self._wake = threading.Event()
        self.current: Job | None = None
        self._thread = threading.Thread(target=self._loop, name="cifar-tui-engine", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    def cancel(self, run_id: int | None = None) -> bool:
        """Stop the current run (if it is run_id, when given) at its next batch."""
        current = self.current
        if current is None or (run_id is not None and current.run_id != run_id):
            return False
        self._control.stop.set()
        return True

    def pause_run(self, run_id: int, paused: bool) -> bool:
        """Hold the current run (if it is run_id) at its next batch, or let it go on."""
        current = self.current
        if current is None or current.run_id != run_id:
            return False
        self._control.pause(paused)
        return True

    def close(self, timeout: float = 10.0) -> bool:
        """Cancel the current run and stop the thread; True when it has ended."""
        self._closing.set()
        self._control.stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            # Reset before the claim, and only then look at _closing (close() sets it before the
            # stop): a close() that comes while the next run is claimed stops that run.
            self._control.reset()
            if self._closing.is_set():
                return
            job = None
            try:
                job = self._next_job()
            except Exception:
                log.exception("the job source failed; retrying")
            if job is None:
                self._wake.wait(self._idle_wait_s)
                self._wake.clear()
                continue
            self.current = job
            try:
                self._runner(job, self._emit, self._control)
            finally:
                self.current = None
