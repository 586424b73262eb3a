"""Carries cancel requests made in other processes (`cifar-tui cancel`, another app) to this
process's worker: a thread that polls the store for them."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Callable

from store.runs import RunStore

POLL_S = 0.5


class CancelWatcher:
    def __init__(self, db_path: Path, worker: str, cancel: Callable[[int], object]):
        self.db_path, self.worker, self.cancel = db_path, worker, cancel
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cifar-tui-cancel-watcher", daemon=True)

    def start(self) -> CancelWatcher:
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
                    requested = store.cancel_requests(self.worker)
                except sqlite3.Error:
                    continue  # busy for longer than the timeout: ask again at the next poll
                for run_id in requested:
                    self.cancel(run_id)
        finally:
            store.close()
