"""The app's engine as a thread (`cifar-tui --engine thread`) with its recorder, and the bridge
from their events to Textual messages.

Events go: training loop -> recorder thread (writes them to SQLite) -> App.post_message.
post_message is thread-safe and never blocks, so the training loop never waits on the UI,
and whatever the UI shows has been recorded first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from engine.worker import Worker
from store.recorder import Recorder
from tui.cancel_watcher import CancelWatcher
from tui.job_source import QueueJobs

if TYPE_CHECKING:
    from textual.app import App

    from tui.home import Home


class EngineEvent(Message):
    """One engine event, recorded and delivered to the app."""

    def __init__(self, event: object):
        super().__init__()
        self.event = event


class EngineLink:
    in_process = True  # its events reach the app as EngineEvent messages

    def __init__(self, app: App, home: Home):
        self.home = home
        self.recorder = Recorder(home.db_path, forward=[lambda event: app.post_message(EngineEvent(event))])
        jobs = QueueJobs(home, self.recorder)
        self.worker = Worker(jobs, self.recorder, home.data_dir, checkpoint_dir=home.checkpoint_dir,
                    must_stop=lambda: self.recorder.broken is not None)
        self.watcher = CancelWatcher(home.db_path, jobs.worker_name, self.worker.cancel)

    def start(self) -> None:
        self.worker.start()
        self.watcher.start()

    # The engine interface the app uses; EngineProcess has the same.
    @property
    def paused(self) -> bool:
        return self.worker.paused

    def pause(self) -> None:
        self.worker.pause()

    def resume(self) -> None:
        self.worker.resume()

    def wake(self) -> None:
        self.worker.wake()

    def cancel(self, run_id: int) -> bool:
        return self.worker.cancel(run_id)

    def training(self) -> int | None:
        """The id of the run this engine trains now, if any."""
        current = self.worker.current
        return current.run_id if current else None

    def close(self, timeout: float = 10.0) -> bool:
        """Cancel the current run, stop the engine thread and write what is left."""
        self.watcher.close()
        stopped = self.worker.close(timeout)
        self.recorder.close()
        return stopped
