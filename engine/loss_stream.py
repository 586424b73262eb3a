"""Batch losses from the device to subscribers in chunks, without a sync per step.

Each step's loss stays on the device. Every `interval_s` (or `max_chunk` steps) the pending
losses are stacked and copied to the host asynchronously; the chunk is emitted once the copy
has landed, which the loop checks without waiting. On the CPU the copy is immediate.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import torch

from .events import Losses


class Diverged(RuntimeError):
    pass


class LossStream:
    def __init__(
        self,
        run_id: int,
        emit: Callable[[Losses], None],
        interval_s: float = 0.1,
        max_chunk: int = 512,
        memory: Callable[[], int] = lambda: 0,
    ):
        self.run_id = run_id
        self.emit = emit
        self.memory = memory  # device memory in use, sent with each chunk
        self.interval_s = interval_s
        self.max_chunk = max_chunk
        self._pending: list[torch.Tensor] = []
        self._pending_first_step = 0
        self._pending_epoch = 0
        self._in_flight: deque[tuple[int, int, torch.Tensor, torch.cuda.Event | None, int]] = deque()
        self._last_launch = time.monotonic()
        self._sums: dict[int, float] = {}  # epoch -> sum of its delivered losses
        self._counts: dict[int, int] = {}

    def epoch_mean(self, epoch: int) -> float:
        """The mean loss of an epoch's delivered steps (flush first for all of them)."""
        return self._sums.get(epoch, 0.0) / max(1, self._counts.get(epoch, 0))

    def append(self, step: int, epoch: int, loss: torch.Tensor) -> None:
        if not self._pending:
            self._pending_first_step, self._pending_epoch = step, epoch
        elif epoch != self._pending_epoch:
            self._launch()
            self._pending_first_step, self._pending_epoch = step, epoch
        self._pending.append(loss.detach())
        if len(self._pending) >= self.max_chunk or time.monotonic() - self._last_launch >= self.interval_s:
            self._launch()
        self._deliver(wait=False)

    def flush(self) -> None:
        """Emit every loss appended so far (waits for the copies: call it at epoch ends)."""
        self._launch()
        self._deliver(wait=True)

    def _launch(self) -> None:
        self._last_launch = time.monotonic()
        if not self._pending:
            return
        chunk = torch.stack(self._pending).float()
        event = None
        if chunk.is_cuda:
            host = torch.empty(chunk.shape, dtype=chunk.dtype, pin_memory=True)
            host.copy_(chunk, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
        else:
            host = chunk
        self._in_flight.append((self._pending_first_step, self._pending_epoch, host, event, self.memory()))
        self._pending = []

    def _deliver(self, wait: bool) -> None:
        while self._in_flight:
            first_step, epoch, host, event, memory = self._in_flight[0]
            if event is not None:
                if not wait and not event.query():
                    return
                event.synchronize()
            self._in_flight.popleft()
            losses = tuple(host.tolist())
            self._sums[epoch] = self._sums.get(epoch, 0.0) + math.fsum(losses)
            self._counts[epoch] = self._counts.get(epoch, 0) + len(losses)
            self.emit(Losses(self.run_id, epoch, first_step, losses, memory))
            bad = next((i for i, value in enumerate(losses) if not math.isfinite(value)), None)
            if bad is not None:
                raise Diverged(f"loss became {losses[bad]} at step {first_step + bad}; try a smaller lr")
