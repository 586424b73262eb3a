"""Follows runs through the store, turning new rows into the engine's events: the inverse of the
recorder (events -> rows). Every viewer (the app's Live view and its notifications) reads runs
this way, whoever trains them: the app's own engine, a `cifar-tui worker` in another shell, a
headless `cifar-tui run`.

It follows one run at a time: the newest that is training, until it ends. It also reports every
other run that ends, one that failed before its first step included.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import groupby
from typing import Any

from ..engine.events import (
    Losses,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunInterrupted,
    RunPaused,
    RunPruned,
    RunStarted,
)
from .epoch_row import to_event
from .runs import RunStore


class StoreFollower:
    def __init__(self, store: RunStore, emit: Callable[[object], None]):
        self.store = store
        self.emit = emit
        self.run_id: int | None = None  # the run followed now, or last
        self.running = False  # whether it was still training at the last poll
        self.next_step = 0  # its first step not emitted yet
        self.epochs_seen = 0
        self.paused = False  # the followed run's pause request, as last emitted
        self.ended_after = store.last_ending()  # endings from before the viewer started are old news

    def poll(self) -> None:
        """Emit what happened since the last poll."""
        if self.running:
            self._catch_up()
        self._report_endings()
        if not self.running:
            newest = self.store.newest_training()  # the last one followed too, if it was resumed
            if newest is not None:
                self._start(newest)

    def watch(self, run_id: int) -> None:
        """Follow this run from now on (until it ends; then the newest training one again)."""
        if self.store.run(run_id) is not None:
            self._start(run_id)

    def _start(self, run_id: int) -> None:
        run = self.store.run(run_id)
        self.run_id, self.running, self.next_step, self.epochs_seen, self.paused = run_id, True, 0, 0, False
        self.emit(started(run))
        self._catch_up()

    def _catch_up(self) -> None:
        run_id = self.run_id
        rows = self.store.losses_from(run_id, self.next_step)
        epochs = self.store.epochs(run_id)[self.epochs_seen :]
        run = self.store.run(run_id)  # read after the rows: an ending it shows comes after them
        memory = (run or {}).get("memory_used") or 0
        for epoch, chunk in groupby(rows, key=lambda row: row[1]):
            chunk = list(chunk)
            self.emit(Losses(run_id, epoch, chunk[0][0], tuple(row[2] for row in chunk), memory))
        if rows:
            self.next_step = rows[-1][0] + 1
        for row in epochs:
            self.emit(to_event(row))
            self.epochs_seen += 1
        if run is not None and bool(run["pause_requested"]) != self.paused and run["status"] == "running":
            self.paused = not self.paused
            self.emit(RunPaused(run_id, self.paused))
        if run is None:  # deleted meanwhile
            self.running = False
        elif run["status"] != "running":
            self.running = False
            self.emit(ending(run, self.next_step))

    def _report_endings(self) -> None:
        for run in self.store.ended_since(self.ended_after):
            self.ended_after = run["finished_at"]
            if run["id"] == self.run_id:
                continue  # followed: its events said it
            if not self.running:
                # Nothing is training: this run becomes what the viewer shows, all of it (a short
                # run may have started and ended between two polls), its ending included.
                self.run_id, self.next_step, self.epochs_seen, self.paused = run["id"], 0, 0, False
                self.emit(started(run))
                self._catch_up()
            else:
                self.emit(ending(run, 0))


def started(run: dict[str, Any]) -> RunStarted:
    """A run's RunStarted as its row has it (total_steps 0: it never began training)."""
    total = run["total_steps"] or 0
    epochs = max(1, int(run["config"].get("epochs", 1)))
    return RunStarted(
        run["id"],
        json.dumps(run["config"], sort_keys=True),
        run["device"] or "",
        run["device_name"] or "",
        run["params"] or 0,
        max(1, total // epochs) if total else 0,
        total,
        memory_total=run.get("memory_total") or 0,
        classes=tuple(run.get("classes") or ()),
    )


def ending(run: dict[str, Any], step: int) -> object:
    status, error = run["status"], run["error"]
    if status == "finished":
        return RunFinished(run["id"], run["test_acc"] or 0.0, run["test_loss"] or 0.0, run["seconds"] or 0.0)
    if status == "failed":
        return RunFailed(run["id"], error or "failed")
    if status == "cancelled":
        return RunCancelled(run["id"], step)
    if status == "pruned":
        return RunPruned(run["id"], run.get("epochs_done") or 0, step)
    return RunInterrupted(run["id"], error or status)
