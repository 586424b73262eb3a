"""What the Live view shows of the running run, accumulated from engine events (no widgets here)."""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field

from ..engine.config import ConfigError, RunConfig
from ..engine.events import (
    EpochEnd,
    Evaluated,
    EventSink,
    Losses,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunInterrupted,
    RunPaused,
    RunPruned,
    RunStarted,
)


@dataclass
class LiveRun:
    run_id: int
    config: RunConfig
    device: str
    device_name: str
    params: int
    steps_per_epoch: int
    total_steps: int
    first_step: int = 0
    losses: array = field(default_factory=lambda: array("f"))
    epochs: list[EpochEnd] = field(default_factory=list)
    status: str = "running"
    paused: bool = False  # held at its next batch, on request
    memory_used: int = 0  # GPU bytes, as the worker last recorded them (0: a CPU, or not known)
    memory_total: int = 0
    classes: tuple[str, ...] = ()  # the dataset's names in label order (() from an older row: CIFAR-10's)
    held_out: dict[str, dict[str, float]] = field(default_factory=dict)  # --eval-on sets' summaries
    error: str | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def step(self) -> int:
        return self.first_step + len(self.losses)

    @property
    def epoch(self) -> int:
        """The epoch in progress (1-based): the one after the last that reported its results."""
        return min(self.config.epochs, len(self.epochs) + 1)

    @property
    def epoch_step(self) -> int:
        return min(self.steps_per_epoch, self.step - (self.epoch - 1) * self.steps_per_epoch)

    @property
    def evaluating(self) -> bool:
        """Every step of the epoch is done and its test results are not in yet."""
        return self.status == "running" and self.epoch_step >= self.steps_per_epoch

    @property
    def images_per_s(self) -> float | None:
        """Training speed: the last epoch's, or the rate so far during the first."""
        if self.epochs:
            return self.epochs[-1].images_per_s
        seconds = time.monotonic() - self.started
        done = (self.step - self.first_step) * self.config.batch_size
        return done / seconds if seconds > 1 and done else None

    @property
    def eta_s(self) -> float | None:
        """Time left at the training speed; None until that speed is settled (the first steps
        run slower, and an estimate from them is far off)."""
        speed = self.images_per_s
        settled = self.epochs or (self.step - self.first_step >= 50 and time.monotonic() - self.started >= 5)
        if not speed or not settled:
            return None
        return (self.total_steps - self.step) * self.config.batch_size / speed


class LiveState(EventSink):
    """The running run (if any) and the last one that ended, fed one event at a time."""

    def __init__(self) -> None:
        self.run: LiveRun | None = None
        self.version = 0  # bumped on every change, so views redraw only when something changed

    def handle(self, event: object) -> None:
        """A RunStarted shows its run from now on; any other event counts only for the run shown."""
        if isinstance(event, RunStarted) or self.run is not None and getattr(event, "run_id", None) == self.run.run_id:
            super().handle(event)
            self.version += 1

    apply = handle

    def on_run_started(self, event: RunStarted) -> None:
        try:
            config = RunConfig.from_json(event.config_json)
        except ConfigError:  # a run an older version queued: nothing this view can draw
            return
        self.run = LiveRun(
            event.run_id,
            config,
            event.device,
            event.device_name,
            event.params,
            event.steps_per_epoch,
            event.total_steps,
            event.first_step,
            memory_total=event.memory_total,
            classes=event.classes,
        )

    def on_losses(self, event: Losses) -> None:
        self.run.losses.extend(event.losses)
        self.run.memory_used = event.memory_used or self.run.memory_used

    def on_run_paused(self, event: RunPaused) -> None:
        self.run.paused = event.paused

    def on_epoch_end(self, event: EpochEnd) -> None:
        self.run.epochs.append(event)

    def on_evaluated(self, event: Evaluated) -> None:
        self.run.held_out[event.label] = dict(event.summary)

    def on_run_finished(self, event: RunFinished) -> None:
        self.run.status = "finished"

    def on_run_failed(self, event: RunFailed) -> None:
        self.run.status, self.run.error = "failed", event.error

    def on_run_cancelled(self, event: RunCancelled) -> None:
        self.run.status = "cancelled"

    def on_run_pruned(self, event: RunPruned) -> None:
        self.run.status = "pruned"

    def on_run_interrupted(self, event: RunInterrupted) -> None:
        self.run.status, self.run.error = "interrupted", event.reason
