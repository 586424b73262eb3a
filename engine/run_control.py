"""What a trainer asks between batches: stop now? And while the run is paused, it waits here."""

from __future__ import annotations

import threading
from collections.abc import Callable


class RunControl:
    def __init__(self, must_stop: Callable[[], bool] = lambda: False):
        """must_stop: a condition outside this run that stops it too (the store stopped taking writes)."""
        self.stop = threading.Event()
        self.hold = threading.Event()
        self._must_stop = must_stop

    def should_stop(self) -> bool:
        """The training loop's question at each batch. A paused run blocks in here, at a batch
        boundary, with nothing left running on the device, until it is resumed or stopped."""
        while self.hold.is_set() and not self._stopping():
            self.stop.wait(0.2)
        return self._stopping()

    def pause(self, paused: bool = True) -> None:
        (self.hold.set if paused else self.hold.clear)()

    def _stopping(self) -> bool:
        return self.stop.is_set() or self._must_stop()
