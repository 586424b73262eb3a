"""One worker's set-up, the same for the app's engine thread, `worker` (each member of a
`--devices` pool too) and `run`: a Recorder (the only writer of what the runs send), a job source
(the queue's claims, or `run`'s one run), a Worker whose must_stop is the recorder's (the store
stopped taking writes, or this worker lost the run), a ControlWatcher that carries cancel and
pause requests from the store, and, unless the run may share the process, the supervised
TrainingProcess; started and closed in one order. (The Ray dispatcher shares the recorder, the
queue's claims and the watcher, but trains in actors: tui/worker/ray_dispatcher.py.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ...engine.events import RunCancelled, RunInterrupted
from ...engine.worker import Job, Worker
from ...store.recorder import Recorder
from .control_watcher import ControlWatcher
from .job_source import QueueJobs
from .training_process import TrainingProcess

if TYPE_CHECKING:
    from .home import Home


class OneJob:
    """`run`'s job source: its one run (already claimed), then nothing."""

    def __init__(self, job: Job):
        self.job: Job | None = job

    def __call__(self) -> Job | None:
        job, self.job = self.job, None
        return job


class LocalWorker:
    def __init__(
        self,
        home: Home,
        jobs: Callable[[], Job | None] | None = None,
        *,
        device: str | None = None,
        pool: str | None = None,
        threads: int | None = None,
        forward: Iterable[Callable[[Any], None]] = (),
        isolated: bool = True,
        runner: Callable[[Job, Callable[[Any], None], Any], None] | None = None,
    ):
        """jobs: where work comes from (default: claims from the queue, for device and pool).
        isolated: train in a supervised child process (False: on the worker's thread, as the
        app's `--engine thread` does). runner: trains a job instead (a test's scripted engine)."""
        self.recorder = Recorder(home.db_path, forward=list(forward))
        self.jobs = jobs if jobs is not None else QueueJobs(home, self.recorder, device, pool)
        self.worker_name = self.recorder.worker
        self.idle = threading.Event()  # set when the job source had nothing (empty or paused queue; `run` done)
        self._interrupted: str | None = None
        self._last: int | None = None  # the run this worker took last
        isolated = isolated and runner is None
        self.trainer = TrainingProcess(home.data_dir, home.checkpoint_dir, threads, home.log_path) if isolated else None
        if isolated:
            runner = lambda job, emit, control: self.trainer.run(job, emit, control.asked, control.go_on)  # noqa: E731
        self.worker = Worker(
            self._next_job,
            self._record,
            home.data_dir,
            checkpoint_dir=home.checkpoint_dir,
            must_stop=self._must_stop,
            runner=runner,
            judge=getattr(self.jobs, "judge", None),  # a search's pruner, through the queue's store
        )
        self.watcher = ControlWatcher(home.db_path, self.worker_name, self.worker.cancel, self.worker.pause_run)

    def start(self) -> LocalWorker:
        self.worker.start()
        self.watcher.start()
        return self

    def _next_job(self) -> Job | None:
        settled = True
        if self._last is not None:  # one run at a time: its ending is written before the next claim
            settled = self.recorder.settled(self._last, timeout=10)
        job = self.jobs()
        if job is not None or settled:
            self._last = job.run_id if job is not None else None
        if job is None and settled:
            self.idle.set()
        # not settled (a write lock held past the recorder's patience): the last run still reads
        # as running, so a search's next trial is not proposed yet; `--until-empty` waits for it
        return job

    def _must_stop(self) -> bool:
        current = self.worker.current
        return self.recorder.must_stop(current.run_id) if current else self.recorder.broken is not None

    def _record(self, event) -> None:
        if self._interrupted and isinstance(event, RunCancelled):  # stopped by force too: nobody asked for it
            event = RunInterrupted(event.run_id, self._interrupted)
        self.recorder(event)

    def wake(self) -> None:
        self.worker.wake()

    def training(self) -> list[int]:
        """The id of the run this worker trains now, if any."""
        current = self.worker.current
        return [current.run_id] if current else []

    def close(self, timeout: float = 30.0, interrupted: str | None = None) -> bool:
        """Stop the current run, end the training process and write what is left; True when the
        run's ending was recorded in time. interrupted: why the worker stops on its own (the app
        that started it is gone): its run then ends interrupted, for `resume`, not cancelled."""
        self._interrupted = interrupted
        self.watcher.close()
        stopped = self.worker.close(timeout)
        if self.trainer is not None:
            self.trainer.close()
        return self.recorder.close() and stopped
