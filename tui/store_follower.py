"""Follows, through the store, a run that another process trains (a `cifar-tui worker`, a
headless `cifar-tui run`), turning new rows into the same events the app's own engine emits;
and reports every run that ends, including one that failed before its first step."""

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
                 emit: Callable[[object], None] | None = None,
                 announce: Callable[[dict], None] | None = None):
        """announce(row): a run ended (finished, failed, interrupted) while Live shows another
        that is still training; the app tells the user."""
        self.store = store
        self.state = state  # read here; written through emit (default: state.apply)
        self.emit = emit or state.apply
        self.own_worker = own_worker  # the app's own engine: its runs arrive as events, not rows
        self.announce = announce or (lambda row: None)
        self.run_id: int | None = None
        self.epochs_seen = 0
        self.ended_after = store.last_ending()  # endings from before the app started are old news

    def poll(self) -> None:
        """Bring the live state up to date with the newest running run (or the one it followed)."""
        if self.run_id is not None:
            self._catch_up(self.run_id)
        rows = self.store.db.execute(
            "SELECT id FROM runs WHERE status = 'running' AND total_steps IS NOT NULL AND worker != ? "
            "ORDER BY started_at DESC LIMIT 1", [self.own_worker]).fetchall()
        if rows and rows[0][0] != self.run_id and not self._followed_is_running():
            self._start(rows[0][0])
        self._report_endings()

    def _report_endings(self) -> None:
        for row in self.store.ended_since(self.ended_after):
            self.ended_after = row["finished_at"]
            shown = self.state.run
            if row["id"] == self.run_id or (shown is not None and shown.run_id == row["id"]):
                continue  # the run Live shows: its own events said it (catch-up or the engine)
            if self._followed_is_running():
                self.announce(row)
                continue
            # Live is free: show this ending there too, even for a run that never started training.
            try:
                config = RunConfig.from_dict(row["config"]).to_json()
            except ConfigError:
                config = None
            if config is not None:
                self.state.apply(RunStarted(row["id"], config, row["device"] or row["config"].get("device", ""),
                                            row["device_name"] or "", row["params"] or 0, 0, row["total_steps"] or 0))
                self.state.end(row["id"], row["status"], row["error"])
            self.announce(row)

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


