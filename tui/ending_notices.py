"""What the user hears of each run's ending that was not their own doing: a notification, from
the events the app reads in the store (a cancel is the user's own; it is not announced)."""

from __future__ import annotations

from collections.abc import Callable

from ..engine.events import EventSink, RunFailed, RunFinished, RunInterrupted, RunPruned
from .safe_text import markup_safe


class EndingNotices(EventSink):
    def __init__(self, notify: Callable[..., None]):
        self.notify = notify  # the app's notify(message, severity=..., timeout=...)

    def on_run_finished(self, event: RunFinished) -> None:
        self.notify(f"run {event.run_id} finished: test acc {event.test_acc:.2f}%")

    def on_run_failed(self, event: RunFailed) -> None:
        self.notify(f"run {event.run_id} failed: {markup_safe(event.error)}", severity="error", timeout=15)

    def on_run_pruned(self, event: RunPruned) -> None:
        self.notify(f"run {event.run_id} pruned after epoch {event.epoch}: its search's pruner stopped it")

    def on_run_interrupted(self, event: RunInterrupted) -> None:
        self.notify(f"run {event.run_id} interrupted: {markup_safe(event.reason)}", severity="error", timeout=15)
