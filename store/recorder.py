"""Writes engine events to the store in batched transactions, on its own thread and connection.

The training loop only puts events on a queue (never waits on SQLite). The recorder's thread
writes whatever has piled up in one transaction, then passes the events on to `forward`
subscribers, so whatever they show has already been recorded, and then moves the epoch's
checkpoint into place (engine/checkpoint.py), so that a checkpoint never gets ahead of the rows.

Fencing: a run this recorder was told it owns (`own(run_id, token)`, by whoever claimed it) is
written only while the store still says it is running under that claim token, checked in the
same transaction as the writes. Once it is not (the worker was frozen, its run marked
interrupted and resumed elsewhere), the run's events are dropped, `must_stop(run_id)` stops its
training, and subscribers get one RunLost saying so.

A write that fails is retried, with backoff, with everything that arrived meanwhile; no event
of a run this worker holds is ever dropped. If the store stays unwritable for PATIENCE_S, `broken` says why: the trainer
stops (its should_stop asks), and the run's ending is recorded as failed with that reason as
soon as the store takes writes again.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..engine.checkpoint import commit
from ..engine.events import (
    EpochEnd,
    Evaluated,
    EventSink,
    Losses,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunInterrupted,
    RunLost,
    RunPruned,
    RunStarted,
)
from ..engine.pause_points import pause_point
from .columns import epoch_end_sql
from .epoch_row import to_row
from .liveness import HEARTBEAT_S
from .runs import PRUNED_AT, RunStore, now, worker_id

log = logging.getLogger(__name__)
MAX_BATCH = 1000  # events per transaction
# How long the store may refuse writes (a lock held by another program, a full disk) before the
# run stops and fails. CIFAR_TUI_STORE_PATIENCE_S changes it (the fault tests shorten it).
PATIENCE_S = float(os.environ.get("CIFAR_TUI_STORE_PATIENCE_S", "60"))
RETRY_MAX_S = 2.0
_CLOSE = object()
ENDINGS = (RunFinished, RunFailed, RunCancelled, RunPruned, RunInterrupted)


class Recorder:
    def __init__(self, path: Path | str, forward: list[Callable[[Any], None]] | None = None, worker: str | None = None):
        self.path = path
        self.worker = worker or worker_id()
        self.forward = list(forward or [])
        self.broken: str | None = None  # why the store stopped taking writes; None while it takes them
        self.unrecorded = 0  # events still unwritten when close() gave up
        self.lost: dict[int, str] = {}  # runs whose claim this worker lost -> why (fencing)
        self._claims: dict[int, int] = {}  # run id -> the claim token this worker holds it under
        self._ended: set[int] = set()  # owned runs whose ending is recorded: nothing more to write
        self._closing_deadline = float("inf")
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._opened = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="cifar-tui-recorder", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            raise self._error

    def __call__(self, event: Any) -> None:
        """Subscribe this to the engine: thread-safe and never blocks."""
        self._queue.put(event)

    def own(self, run_id: int, token: int) -> None:
        """This worker claimed the run under this token: from now on its events are written only
        while the claim holds. Call it before the run's first event."""
        self._ended.discard(run_id)
        self.lost.pop(run_id, None)
        self._claims[run_id] = token

    def must_stop(self, run_id: int) -> bool:
        """Stop training this run: the store stopped taking writes, or the run is no longer ours."""
        return self.broken is not None or run_id in self.lost

    def settled(self, run_id: int, timeout: float) -> bool:
        """Wait until the run's ending is written (or the run was lost, or the store broke, or the
        recorder stopped: nothing will write it now): what claims next, a search's next proposal
        among it, then sees how the run ended. False: the store still refuses the write."""
        deadline = time.monotonic() + timeout
        while run_id not in self._ended and run_id not in self.lost and self.broken is None:
            if not self._thread.is_alive():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 30.0) -> bool:
        """Write everything received so far, then stop; False if the store would not take it all
        within the timeout (`unrecorded` counts what is lost)."""
        self._closing_deadline = time.monotonic() + timeout
        self._queue.put(_CLOSE)
        self._thread.join(timeout + 1)
        return not self._thread.is_alive() and self.unrecorded == 0

    def _loop(self) -> None:
        try:
            store = RunStore(self.path)
        except BaseException as error:
            self._error = error
            self._opened.set()
            return
        self._opened.set()
        try:
            self._record_until_closed(store)
        except Exception as error:  # a bug: stop training rather than train on unrecorded
            log.exception("the recorder stopped")
            self.broken = f"the recorder stopped ({type(error).__name__}: {error}); see the log"
        finally:
            store.close()

    def _record_until_closed(self, store: RunStore) -> None:
        pending: list[Any] = []  # received, not yet written
        closing = False
        last_beat = time.monotonic()
        failing_since: float | None = None
        backoff = 0.05
        while not (closing and not pending):
            if closing and failing_since is not None:
                time.sleep(backoff)
            pending += self._take(0 if closing else HEARTBEAT_S if failing_since is None else backoff)
            if _CLOSE in pending:
                closing = True
                pending = [event for event in pending if event is not _CLOSE]
            beat_due = time.monotonic() - last_beat >= HEARTBEAT_S
            if not pending and not beat_due:
                continue
            if self.broken:
                pending = [self._as_failure(event) for event in pending]
            attempt_started = time.monotonic()  # a write can wait the busy timeout before it fails
            try:
                with store.write():
                    kept, dropped, lost_now = self._fence(store, pending)
                    for event in kept:
                        record(store, event)
                    if beat_due:
                        # This process's runs are alive, even while their loop is quiet
                        # (evaluating, loading data): other processes judge liveness by it.
                        store.heartbeat(self.worker, in_transaction=True)
            except sqlite3.Error as error:
                failing_since = failing_since or attempt_started
                self._note_failure(error, time.monotonic() - failing_since)
                if closing and time.monotonic() >= self._closing_deadline:
                    self.unrecorded = len(pending)
                    log.error("gave up: %d events were not recorded (%s)", len(pending), error)
                    return
                backoff = min(RETRY_MAX_S, backoff * 2)
                continue
            if failing_since is not None:
                log.warning("the store takes writes again after %.1f s", time.monotonic() - failing_since)
            failing_since, backoff = None, 0.05
            if beat_due:
                last_beat = time.monotonic()
            pending = []
            self._ended.update(e.run_id for e in kept if isinstance(e, ENDINGS) and e.run_id in self._claims)
            for event in dropped:  # a checkpoint of a run we lost never goes into place
                if isinstance(event, EpochEnd) and event.checkpoint_temp:
                    Path(event.checkpoint_temp).unlink(missing_ok=True)
            for run_id, reason in lost_now.items():
                self.lost[run_id] = reason
                log.warning("run %s: %s", run_id, reason)
                self._pass_on(RunLost(run_id, reason))
            for event in kept:
                self._pass_on(event)

    def _fence(self, store: RunStore, events: list[Any]) -> tuple[list[Any], list[Any], dict[int, str]]:
        """(the events this worker may still write, those it may not, {run id: why} for owned runs
        it just lost); inside the write transaction, so that no other claim comes between check
        and write."""
        lost_now: dict[int, str] = {}
        for run_id in {getattr(event, "run_id", None) for event in events} & set(self._claims):
            if run_id in self.lost or run_id in self._ended:
                continue
            holder = store.holder(run_id)
            if holder is None or holder[0] != "running" or holder[2] != self._claims[run_id]:
                lost_now[run_id] = _lost_reason(holder)
        gone = set(lost_now) | set(self.lost) | self._ended
        kept, dropped = [], []
        for event in events:
            (dropped if getattr(event, "run_id", None) in gone else kept).append(event)
        return kept, dropped, lost_now

    def _take(self, wait: float) -> list[Any]:
        """What has arrived: waits up to `wait` s for the first event, then takes the rest."""
        events: list[Any] = []
        try:
            events.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
        except queue.Empty:
            return events
        while len(events) < MAX_BATCH:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return events

    def _note_failure(self, error: sqlite3.Error, seconds: float) -> None:
        text = str(error)
        permanent = not isinstance(error, sqlite3.OperationalError) or "malformed" in text
        if self.broken is None and (permanent or seconds >= PATIENCE_S):
            reason = _describe(text, self.path)
            self.broken = reason if permanent else f"{reason} for {seconds:.0f} s; training stopped"
            log.error("the store is unwritable: %s", self.broken)
        else:
            log.warning("store write failed (%s); retrying", text)

    def _as_failure(self, event: Any) -> Any:
        """A run that stopped because the store would not take writes failed, for that reason."""
        if isinstance(event, RunCancelled) and self.broken:
            return RunFailed(event.run_id, self.broken)
        return event

    def _pass_on(self, event: Any) -> None:
        if isinstance(event, EpochEnd) and event.checkpoint_temp:
            pause_point("epoch-recorded")  # the row is durable, the checkpoint not yet in place
            try:
                commit(event.checkpoint_temp, event.checkpoint)
            except OSError:
                log.exception("could not move %s into place", event.checkpoint_temp)
            pause_point("checkpoint-moved")
            event = replace(event, checkpoint_temp="", checkpoint="")
        for subscriber in self.forward:
            try:
                subscriber(event)
            except Exception:
                log.exception("subscriber %r failed", subscriber)


def _lost_reason(holder: tuple[str, str | None, int] | None) -> str:
    if holder is None:
        return "this worker lost the run: it was deleted; nothing more is written to it"
    status, worker, _ = holder
    now_held = f"{status} by {worker}" if status == "running" else status
    return (
        f"this worker lost the run (it is {now_held} now: it was taken while this process did not run); "
        "it stops training it and writes nothing more to it"
    )


def _describe(sqlite_text: str, path: Path | str) -> str:
    if "disk is full" in sqlite_text:
        return f"no space left for {path}"
    if "locked" in sqlite_text or "busy" in sqlite_text:
        return f"{path} stayed locked by another program"
    return f"{path} cannot be written ({sqlite_text})"


def record(store: RunStore, event: Any) -> None:
    """Write one event inside the caller's transaction."""
    Rows(store.db).handle(event)


class Rows(EventSink):
    """An event's rows, written on the connection of the caller's transaction."""

    def __init__(self, db):
        self.db = db

    def on_losses(self, event: Losses) -> None:
        # executemany straight on the connection: the hot path, ~100x fewer Python calls than
        # building dicts for insert_all.
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO losses (run_id, step, epoch, loss) VALUES (?, ?, ?, ?)",
            [(event.run_id, event.first_step + i, event.epoch, loss) for i, loss in enumerate(event.losses)],
        )
        if event.memory_used:
            self.db.execute("UPDATE runs SET memory_used = ? WHERE id = ?", [event.memory_used, event.run_id])

    def on_run_started(self, event: RunStarted) -> None:
        db = self.db
        db.execute(
            """UPDATE runs SET status = 'running', device = ?, device_name = ?, params = ?,
               total_steps = ?, memory_total = ?, memory_used = NULL, classes = ?,
               environment = coalesce(?, environment), started_at = coalesce(started_at, ?), finished_at = NULL, error = NULL, error_detail = NULL
               WHERE id = ?""",
            [
                event.device,
                event.device_name,
                event.params,
                event.total_steps,
                event.memory_total or None,
                json.dumps(list(event.classes)) if event.classes else None,
                event.environment or None,
                now(),
                event.run_id,
            ],
        )
        # A run that continues from a checkpoint drops what came after it.
        db.execute("DELETE FROM losses WHERE run_id = ? AND step >= ?", [event.run_id, event.first_step])
        db.execute("DELETE FROM epochs WHERE run_id = ? AND step > ?", [event.run_id, event.first_step])
        db.execute(
            """UPDATE runs SET epochs_done = (SELECT count(*) FROM epochs WHERE run_id = runs.id)
               WHERE id = ?""",
            [event.run_id],
        )
        db.execute(
            """DELETE FROM evaluations WHERE run_id = ?
               AND epoch > (SELECT coalesce(max(epoch), 0) FROM epochs WHERE run_id = ?)""",
            [event.run_id, event.run_id],
        )

    def on_epoch_end(self, event: EpochEnd) -> None:
        row = to_row(event)
        self.db["epochs"].insert(row, replace=True)
        # Only the newest epoch keeps its images: a run's strip, not a gallery (store size).
        self.db.execute(
            "UPDATE epochs SET wrong_images = NULL WHERE run_id = ? AND epoch < ?", [event.run_id, event.epoch]
        )
        self.db.execute(epoch_end_sql(), row)

    def on_evaluated(self, event: Evaluated) -> None:
        self.db.conn.executemany(
            """INSERT OR REPLACE INTO evaluations (run_id, epoch, label, part, images, acc, loss)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [(event.run_id, event.epoch, event.label, *part) for part in event.parts],
        )
        summary = json.dumps({"epoch": event.epoch, **dict(event.summary)})
        self.db.execute(
            "UPDATE runs SET evals = json_set(coalesce(evals, '{}'), ?, json(?)) WHERE id = ?",
            [f'$."{event.label}"', summary, event.run_id],
        )

    def on_run_finished(self, event: RunFinished) -> None:
        self._end(event.run_id, "finished", None)

    def on_run_failed(self, event: RunFailed) -> None:
        self._end(event.run_id, "failed", event.error)
        self.db.execute("UPDATE runs SET error_detail = ? WHERE id = ?", [event.detail or None, event.run_id])

    def on_run_cancelled(self, event: RunCancelled) -> None:
        self._end(event.run_id, "cancelled", event.reason or None)

    def on_run_pruned(self, event: RunPruned) -> None:
        self._end(event.run_id, "pruned", None)
        self.db.execute(
            "UPDATE runs SET trial_attrs = json_set(coalesce(trial_attrs, '{}'), ?, ?) WHERE id = ?",
            [f'$."{PRUNED_AT}"', event.epoch, event.run_id],
        )

    def on_run_interrupted(self, event: RunInterrupted) -> None:  # a dispatcher lost the remote process
        self._end(event.run_id, "interrupted", event.reason)

    def _end(self, run_id: int, status: str, error: str | None) -> None:
        self.db.execute(
            "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?", [status, error, now(), run_id]
        )
