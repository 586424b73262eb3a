"""A word when a run ends: `--notify TARGET` on a worker or the app (the app's engine inherits
it as CIFAR_TUI_NOTIFY), else the home's setting `notify` (settings.json).

TARGET is a webhook (an http:// or https:// URL, POSTed the run's summary as JSON) or a command
(split as a shell would, run without one; the summary as JSON on its standard input). A run
that ends finished, failed, pruned or cancelled is told, once its ending is recorded, from a
thread of its own: a hook that fails or hangs costs one log line after TIMEOUT_S, never a
moment of training.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shlex
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from ...engine.events import EventSink, RunCancelled, RunFailed, RunFinished, RunPruned
from ...store.columns import RESULTS
from ...store.runs import RunStore

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0
SETTING = "notify"
ENV = "CIFAR_TUI_NOTIFY"
SUMMARY = (  # the run's columns a summary holds
    "id", "name", "status", "model", "dataset", "sweep", "tags", "epochs", "epochs_done", *RESULTS,
    "error", "worker", "device_name",
)  # fmt: skip
_DONE = object()


class NotifyError(ValueError):
    """A target that cannot be a hook; the message says why."""


def checked_target(text: str) -> str:
    """The target as given, if it can be one: a URL, or a command that parses."""
    if text.startswith(("http://", "https://")):
        return text
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise NotifyError(f"notify: {text!r} is no command ({error})") from None
    if not words:
        raise NotifyError("notify: give a command or an http(s):// URL")
    return text


def target_for(home, given: str | None = None) -> str | None:
    """The hook a worker on this home tells: the flag's, the app's (ENV), or the home's setting;
    "" anywhere along that line means none. Raises NotifyError for one that cannot be a hook."""
    for choice in (given, os.environ.get(ENV), home.setting(SETTING) or None):
        if choice is not None:
            return checked_target(choice) if choice else None
    return None


def summary(run: dict[str, Any], home: Path) -> dict[str, Any]:
    """What a hook is told: the run's figures, its home, and a line to show as it is."""
    told = {key: run.get(key) for key in SUMMARY} | {"home": str(home)}
    result = f": test acc {run['test_acc']:.2f}%" if isinstance(run.get("test_acc"), float) else ""
    told["text"] = f"cifar-tui: run {run['id']} ({run['name'] or 'unnamed'}) {run['status']}{result}"
    if run.get("error"):
        told["text"] += f": {run['error']}"
    return told


def send(target: str, told: dict[str, Any]) -> None:
    """Tell the target, within TIMEOUT_S; raises what went wrong."""
    body = json.dumps(told, ensure_ascii=False).encode()
    if target.startswith(("http://", "https://")):
        request = urllib.request.Request(target, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            answer.read()
        return
    done = subprocess.run(shlex.split(target), input=body, capture_output=True, timeout=TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"exit status {done.returncode}: {done.stderr.decode(errors='replace').strip()[:200]}")


class Notifier(EventSink):
    """A subscriber of a worker's recorder (its events come once they are written)."""

    def __init__(self, target: str, home_path: Path, db_path: Path):
        self.target, self.home_path, self.db_path = target, home_path, db_path
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="cifar-tui-notify", daemon=True)
        self._thread.start()

    def on_run_finished(self, event: RunFinished) -> None:
        self._queue.put(event.run_id)

    def on_run_failed(self, event: RunFailed) -> None:
        self._queue.put(event.run_id)

    def on_run_pruned(self, event: RunPruned) -> None:
        self._queue.put(event.run_id)

    def on_run_cancelled(self, event: RunCancelled) -> None:
        self._queue.put(event.run_id)

    def close(self, timeout: float = TIMEOUT_S + 2) -> None:
        """Tell what is still to tell (up to timeout), then stop."""
        self._queue.put(_DONE)
        self._thread.join(timeout)

    def _loop(self) -> None:
        store = None
        while (run_id := self._queue.get()) is not _DONE:
            try:
                store = store or RunStore(self.db_path)
                run = store.run(run_id)
                if run is not None:
                    send(self.target, summary(run, self.home_path))
            except Exception as error:  # a hook's failure is its own: one line, and on
                line = f"notify: {self.target} failed for run {run_id}: {type(error).__name__}: {error}"
                log.warning(line)
                print(f"cifar-tui: note: {line}", file=sys.stderr, flush=True)
        if store is not None:
            store.close()


def notifiers(target: str | None, home) -> list[Notifier]:
    """A worker's recorder's subscribers for its hook: one Notifier, or none without a target."""
    return [Notifier(target, home.path, home.db_path)] if target else []


def close_all(subscribers: list) -> None:
    """Tell what is still to tell before the worker exits."""
    for subscriber in subscribers:
        if isinstance(subscriber, Notifier):
            subscriber.close()
