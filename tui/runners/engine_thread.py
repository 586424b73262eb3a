"""The app's engine as a thread (`cifar-tui --engine thread`): a worker and its recorder in the
app's process. Like every trainer it writes through the recorder; the app shows its runs by
following the store, as it does for any other worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cifar_tui.engine.worker import Worker
from cifar_tui.store.recorder import Recorder
from cifar_tui.tui.runners.control_watcher import ControlWatcher
from cifar_tui.tui.runners.job_source import QueueJobs

if TYPE_CHECKING:
    from cifar_tui.tui.home import Home


class EngineThread:
    def __init__(self, home: Home):
        self.home = home
        self.recorder = Recorder(home.db_path)
        jobs = QueueJobs(home, self.recorder)
        self.worker = Worker(
            jobs,
            self.recorder,
            home.data_dir,
            checkpoint_dir=home.checkpoint_dir,
            must_stop=lambda: self.recorder.broken is not None,
        )
        self.jobs = jobs
        self.watcher = ControlWatcher(home.db_path, jobs.worker_name, self.worker.cancel, self.worker.pause_run)

    def start(self) -> None:
        self.worker.start()
        self.watcher.start()

    # The engine interface the app uses, as EngineProcess's.
    @property
    def worker_name(self) -> str:
        return self.jobs.worker_name

    def wake(self) -> None:
        self.worker.wake()

    def keep_alive(self) -> str | None:
        """A thread of this process lives as long as the app."""
        return None

    def training(self) -> list[int]:
        """The id of the run this engine trains now, if any."""
        current = self.worker.current
        return [current.run_id] if current else []

    def close(self, timeout: float = 10.0) -> bool:
        """Cancel the current run, stop the engine thread and write what is left."""
        self.watcher.close()
        stopped = self.worker.close(timeout)
        self.recorder.close()
        return stopped
