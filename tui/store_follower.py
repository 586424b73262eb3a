"""Follows, through the store, a run that another process trains (a `cifar-tui worker`, a
headless `cifar-tui run`), turning new rows into the same events the app's own engine emits."""

from __future__ import annotations

from itertools import groupby
from typing import Callable

from engine.config import ConfigError, RunConfig
from engine.events import EpochEnd, Losses, RunCancelled, RunFailed, RunFinished, RunStarted
from store.runs import RunStore
from tui.live_state import LiveState

ENDINGS = ("finished", "failed", "cancelled", "interrupted")


class StoreFollower:
    def __init__(self, store: RunStore, state: LiveState, own_worker: str,
                 emit: Callable[[object], None] | None = None):
        self.store = store
        self.state = state  # read here; written through emit (default: state.apply)
        self.emit = emit or state.apply
        self.own_worker = own_worker  # the app's own engine: its runs arrive as events, not rows
        self.run_id: int | None = None
        self.epochs_seen = 0

    def poll(self) -> None:
        """Bring the live state up to date with the newest running run (or the one it followed)."""
        if self.run_id is not None:
            self._catch_up(self.run_id)
        rows = self.store.db.execute(
            "SELECT id FROM runs WHERE status = 'running' AND total_steps IS NOT NULL AND worker != ? "
            "ORDER BY started_at DESC LIMIT 1", [self.own_worker]).fetchall()
        if rows and rows[0][0] != self.run_id and not self._followed_is_running():
            self._start(rows[0][0])

    def _followed_is_running(self) -> bool:
        return self.state.run is not None and self.state.run.status == "running"

    def _start(self, run_id: int) -> None:
        run = self.store.run(run_id)
        try:
            config = RunConfig.from_dict(run["config"])
        except ConfigError:
            return
        per_epoch = max(1, run["total_steps"] // config.epochs)
        self.run_id, self.epochs_seen = run_id, 0
        self.emit(RunStarted(run_id, config.to_json(), run["device"] or "", run["device_name"] or "",
                             run["params"] or 0, per_epoch, run["total_steps"]))
        self._catch_up(run_id)

    def _catch_up(self, run_id: int) -> None:
        live = self.state.run
        if live is None or live.run_id != run_id:
            return
        rows = self.store.db.execute(
            "SELECT step, epoch, loss FROM losses WHERE run_id = ? AND step >= ? ORDER BY step",
            [run_id, live.step]).fetchall()
        for epoch, chunk in groupby(rows, key=lambda row: row[1]):
            chunk = list(chunk)
            self.emit(Losses(run_id, epoch, chunk[0][0], tuple(row[2] for row in chunk)))
        for e in self.store.epochs(run_id)[self.epochs_seen:]:
            self.emit(EpochEnd(run_id, e["epoch"], e["step"], e["train_loss"], e["test_loss"], e["test_acc"],
                               tuple(e["class_acc"]), e["seconds"], e["images_per_s"]))
            self.epochs_seen += 1
        status, error, test_acc, test_loss, seconds = self.store.db.execute(
            "SELECT status, error, test_acc, test_loss, seconds FROM runs WHERE id = ?", [run_id]).fetchone()
        if status in ENDINGS and live.status == "running":
            if status == "finished":
                self.emit(RunFinished(run_id, test_acc or 0.0, test_loss or 0.0, seconds or 0.0))
            elif status == "failed":
                self.emit(RunFailed(run_id, error or "failed"))
            elif status == "cancelled":
                self.emit(RunCancelled(run_id, live.step))
            else:
                self.state.end(run_id, status, error)
            self.run_id = None


