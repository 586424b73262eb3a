"""What a trainer asks between batches (stop now? while the run is paused, it waits here), and
after each epoch of a search's trial (go on, or has the pruner stopped it?)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class RunControl:
    def __init__(
        self,
        must_stop: Callable[[], bool] = lambda: False,
        on_hold: Callable[[bool], None] | None = None,
        judge: Callable[[Any], bool] | None = None,
    ):
        """must_stop: a condition outside this run that stops it too (the store stopped taking writes).
        on_hold: told True when the loop starts holding at a batch boundary, False when it goes on
        (a supervising process learns that the pause was honoured).
        judge: the verdict on a trial's epoch (its EpochEnd): True to go on; none: always go on."""
        self._judge = judge
        self.stop = threading.Event()
        self.hold = threading.Event()
        self._must_stop = must_stop
        self._on_hold = on_hold

    def should_stop(self) -> bool:
        """The training loop's question at each batch. A paused run blocks in here, at a batch
        boundary, with nothing left running on the device, until it is resumed or stopped."""
        if self.hold.is_set() and not self._stopping():
            if self._on_hold:
                self._on_hold(True)
            while self.hold.is_set() and not self._stopping():
                self.stop.wait(0.2)
            if self._on_hold:
                self._on_hold(False)
        return self._stopping()

    def go_on(self, epoch_end: Any) -> bool:
        """Asked by a judged run at each epoch's end but the last; it waits for the verdict."""
        return True if self._judge is None else self._judge(epoch_end)

    def pause(self, paused: bool = True) -> None:
        (self.hold.set if paused else self.hold.clear)()

    def reset(self) -> None:
        """A new run starts: not stopped, not held."""
        self.stop.clear()
        self.hold.clear()

    def asked(self) -> tuple[bool, bool]:
        """(stop asked, pause asked), without waiting: what a supervisor passes on to the trainer."""
        return self._stopping(), self.hold.is_set()

    def _stopping(self) -> bool:
        return self.stop.is_set() or self._must_stop()


class Verdicts:
    """A judged run's verdicts, as they arrive from the process that judges it (a worker's
    parent process, the Ray dispatcher): `wait` is the training loop's go_on."""

    def __init__(self, stopping: Callable[[], bool]):
        self._queue: queue.Queue = queue.Queue()
        self._stopping = stopping

    def put(self, epoch: int, go_on: bool) -> None:
        self._queue.put((epoch, go_on))

    def clear(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    def wait(self, epoch_end: Any) -> bool:
        while not self._stopping():
            try:
                epoch, go_on = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if epoch == epoch_end.epoch:  # an older epoch's verdict, late: not this one's
                return go_on
        return True  # stopping anyway: the loop's next question says so
