"""The app's engine thread and recorder, and the bridge from their events to Textual messages.

Events go: training loop -> recorder thread (writes them to SQLite) -> App.post_message.
post_message is thread-safe and never blocks, so the training loop never waits on the UI,
and whatever the UI shows has been recorded first.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual.message import Message

from engine.config import ConfigError, RunConfig
from engine.worker import Job, Worker
from store.recorder import Recorder
from store.runs import RunStore, worker_id

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
        self._local = threading.local()
        self.worker_name = worker_id()
        self.recorder = Recorder(home.db_path, forward=[lambda event: app.post_message(EngineEvent(event))])
        self.worker = Worker(self._next_job, self.recorder, home.data_dir)

    def start(self) -> None:
        self.worker.start()

    def _next_job(self) -> Job | None:
        # Runs on the engine thread, which gets a store connection of its own.
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = RunStore(self.home.db_path)
        claimed = store.claim_next(self.worker_name)
        if claimed is None:
            return None
        run_id, config = claimed
        try:
            return Job(run_id, RunConfig.from_dict(config))
        except ConfigError as error:
            # A run queued by an older or newer version, say: fail it, keep the worker going.
            from engine.events import RunFailed

            self.recorder(RunFailed(run_id, f"invalid config: {error}"))
            return None

    def close(self, timeout: float = 10.0) -> bool:
        """Cancel the current run, stop the engine thread and write what is left."""
        stopped = self.worker.close(timeout)
        self.recorder.close()
        return stopped
