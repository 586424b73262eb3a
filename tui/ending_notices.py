"""What the user hears of each run's ending that was not their own doing: a notification, from
the events the app reads in the store (a cancel is the user's own; it is not announced), the
terminal's bell, and a desktop notification where `notify-send` is there to show one."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from ..engine.events import EventSink, RunFailed, RunFinished, RunInterrupted, RunPruned
from .safe_text import markup_safe


class EndingNotices(EventSink):
    def __init__(self, notify: Callable[..., None], bell: Callable[[], None] = lambda: None):
        self.notify = notify  # the app's notify(message, severity=..., timeout=...)
        self.bell = bell  # the app's bell()

    def on_run_finished(self, event: RunFinished) -> None:
        self._say(f"run {event.run_id} finished: test acc {event.test_acc:.2f}%")

    def on_run_failed(self, event: RunFailed) -> None:
        self._say(f"run {event.run_id} failed: {event.error}", severity="error", timeout=15)

    def on_run_pruned(self, event: RunPruned) -> None:
        self._say(f"run {event.run_id} pruned after epoch {event.epoch}: its search's pruner stopped it")

    def on_run_interrupted(self, event: RunInterrupted) -> None:
        self._say(f"run {event.run_id} interrupted: {event.reason}", severity="error", timeout=15)

    def _say(self, text: str, **how) -> None:
        self.notify(markup_safe(text), **how)
        self.bell()
        desktop(text)


def desktop(text: str) -> None:
    """A desktop notification, where there is a desktop to show it (`notify-send`); not waited for."""
    if shutil.which("notify-send") is None:
        return
    try:
        subprocess.Popen(
            ["notify-send", "--app-name=cifar-tui", "cifar-tui", text[:300]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        pass
