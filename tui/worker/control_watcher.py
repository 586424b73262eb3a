"""Carries control requests made anywhere (`cifar-tui cancel`/`pause`, an app in another shell)
to this process's worker: a thread that polls the store for them. Control never travels by
signal, so it reaches a worker in another shell or on another machine alike."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from ...store.runs import RunStore

POLL_S = 0.5


class ControlWatcher:
    def __init__(
        self,
        db_path: Path,
        worker: str,
        cancel: Callable[[int], object],
        pause: Callable[[int, bool], object] = lambda run_id, paused: None,
    ):
        self.db_path, self.worker, self.cancel, self.pause = db_path, worker, cancel, pause
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cifar-tui-control-watcher", daemon=True)

    def start(self) -> ControlWatcher:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self._thread.join(5)

    def _loop(self) -> None:
        store = RunStore(self.db_path)  # this thread's own connection
        try:
            while not self._closing.wait(POLL_S):
                try:
                    requests = store.control_requests(self.worker)
                except sqlite3.Error:
                    continue  # busy for longer than the timeout: ask again at the next poll
                for run_id, (cancel, pause) in requests.items():
                    if cancel:
                        self.cancel(run_id)
                    self.pause(run_id, pause)
        finally:
            store.close()
