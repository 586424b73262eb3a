"""The app's engine thread and recorder, and the bridge from their events to Textual messages.

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

    from tui.cli import Home


class EngineEvent(Message):
    """One engine event, recorded and delivered to the app."""

    def __init__(self, event: object):
        super().__init__()
        self.event = event


class EngineLink:
    def __init__(self, app: App, home: Home):
        self.home = home
        self.recorder = Recorder(home.db_path, forward=[lambda event: app.post_message(EngineEvent(event))])
        jobs = QueueJobs(home, self.recorder)
        self.worker = Worker(jobs, self.recorder, home.data_dir, checkpoint_dir=home.checkpoint_dir)
        self.watcher = CancelWatcher(home.db_path, jobs.worker_name, self.worker.cancel)

    def start(self) -> None:
        self.worker.start()
        self.watcher.start()

    def close(self, timeout: float = 10.0) -> bool:
        """Cancel the current run, stop the engine thread and write what is left."""
        self.watcher.close()
        stopped = self.worker.close(timeout)
        self.recorder.close()
        return stopped
