"""The run store: runs, their epochs and batch losses, and the queue (runs with status queued).

A RunStore (its sqlite connection) belongs to the thread that opened it.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from .annotations import RunAnnotations
from .run_queue import RunQueue
from .run_reading import RunReading
from .run_records import (  # noqa: F401 (the store's names, from one place)
    NOTE_LIMIT,
    PRUNED_AT,
    QUEUE_WHERE,
    RESUMABLE,
    RUN_COLUMNS,
    Claim,
    RunTaken,
    StoreError,
    now,
    worker_id,
)
from .schema import MIGRATION_NAMES, migrations
from .worker_control import WorkerControl

log = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 10.0


class RunStore(RunQueue, WorkerControl, RunReading, RunAnnotations):
    """The store of one home's runs, one sqlite connection: its parts are the queue (store/run_queue.py),
    workers and control (store/worker_control.py), reading (store/run_reading.py) and annotations
    (store/annotations.py); here the connection, its migrations and its writes."""

    def __init__(self, path: Path | str | None = None, busy_timeout_s: float | None = None):
        """Open (creating if needed) the database at path, or an in-memory one for None."""
        busy_timeout_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(":memory:" if self.path is None else self.path, timeout=busy_timeout_s)
        try:
            self.db = Database(conn)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            if self.path is not None:
                self._use_wal(busy_timeout_s)
                self.db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as error:
            conn.close()
            raise StoreError(_explain(error, self.path, busy_timeout_s)) from None
        try:
            self.interrupt_orphans()
        except sqlite3.OperationalError as error:
            # A full disk or a long lock must not stop anyone from reading their runs; the next
            # command that opens the store tries again.
            log.warning("could not mark orphaned runs interrupted: %s", error)

    def _use_wal(self, busy_timeout_s: float) -> None:
        # Switching a new file to WAL takes an exclusive lock and does not wait for the busy
        # timeout: a process that opens a new home beside others retries until it is done.
        deadline = time.monotonic() + busy_timeout_s
        while True:
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _migrate(self) -> None:
        """Apply pending migrations under the write lock, so that processes opening a new home
        at once take turns: the first migrates, the others find nothing left to do."""
        self._check_schema_version()
        if not migrations.pending(self.db):
            return
        with self.write():
            self._check_schema_version()
            migrations.apply(self.db)  # each migration a savepoint inside this transaction

    def _check_schema_version(self) -> None:
        newer = [m.name for m in migrations.applied(self.db) if m.name not in MIGRATION_NAMES]
        if newer:
            raise StoreError(
                f"{self.path} was written by a newer cifar-tui (schema {newer[-1]}); upgrade cifar-tui to open it"
            )

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """A write transaction that takes the write lock up front (BEGIN IMMEDIATE).

        A deferred transaction that reads and then writes fails at once with "database is
        locked" when another connection writes in between; this one waits (busy timeout).
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.conn.rollback()
            raise
        self.db.execute("COMMIT")

    def _dicts(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params or []))


def _explain(error: sqlite3.DatabaseError, path: Path | None, busy_timeout_s: float) -> str:
    text = str(error)
    if "not a database" in text or "malformed" in text:
        return f"{path} is not a cifar-tui database (sqlite says: {text}); move it away or use another --home"
    if "locked" in text or "busy" in text:
        return f"{path} stayed locked by another program for {busy_timeout_s:g} s; try again when it is done"
    if "disk is full" in text:
        return f"no space left for {path}: free some space, then try again"
    return f"cannot open {path}: {text}"
