"""The run store: runs, their epochs and batch losses, and the queue (runs with status queued).

A RunStore (its sqlite connection) belongs to the thread that opened it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlite_utils import Database

from ..engine.config import TYPED_FIELDS, ConfigError, user_model_label
from ..engine.text import unprintable
from . import study
from .columns import LISTS, MEANS, STORED
from .epoch_row import parse_row
from .groups import MEASURES, finish_group, group_key, group_sql
from .liveness import owner_alive
from .run_filter import compile_filter, field_sql, order_sql
from .schema import MIGRATION_NAMES, migrations
from .study import StudySettings

log = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 10.0
RESUMABLE = ("interrupted", "failed", "cancelled", "pruned")
PRUNED_AT = "cifar-tui:pruned_at"  # in a trial's attrs: the epoch its pruner stopped it at (never judged again)

# The run table as people see it (runs --json, export, the Runs screen).
RUN_COLUMNS = STORED  # store/columns.py


NOTE_LIMIT = 2000  # characters
QUEUE_WHERE = "status IN ('running', 'queued')"  # the queue: what trains now and what waits


class Claim(NamedTuple):
    """A run taken for one worker: its id, config and the claim's token (fencing: every write
    about the run holds only under this token, store/recorder.py)."""

    run_id: int
    config: dict[str, Any]
    token: int


class StoreError(RuntimeError):
    """The database cannot be used; the message says why and what to do."""


class RunTaken(RuntimeError):
    """Another process holds the run: nothing was trained here."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RunStore:
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

    def interrupt_orphans(self) -> list[int]:
        """Mark `interrupted` the running runs whose worker is gone; returns their ids."""
        running = self._dicts(
            "SELECT id, worker, coalesce(heartbeat_at, started_at) AS beat FROM runs WHERE status = 'running'"
        )
        orphans = [row["id"] for row in running if not owner_alive(row["worker"], row["beat"])]
        if orphans:
            with self.write():
                self.db.conn.executemany(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? "
                    "WHERE id = ? AND status = 'running'",
                    [
                        (now(), "the worker stopped (killed, crashed or lost) while training; resume it", run_id)
                        for run_id in orphans
                    ],
                )
        return orphans

    def heartbeat(self, worker: str, in_transaction: bool = False) -> None:
        """This worker is alive: stamp the runs it owns."""
        with contextlib.nullcontext() if in_transaction else self.write():
            self.db.execute("UPDATE runs SET heartbeat_at = ? WHERE worker = ? AND status = 'running'", [now(), worker])

    def holder(self, run_id: int) -> tuple[str, str | None, int] | None:
        """(status, worker, claim token) of a run: whether a writer still holds its claim."""
        row = self.db.execute("SELECT status, worker, claim FROM runs WHERE id = ?", [run_id]).fetchone()
        return None if row is None else (row[0], row[1], row[2])

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

    # ------------------------------------------------------------ the queue

    def enqueue(self, config: dict[str, Any], worker: str | None = None, sweep: str | None = None) -> int:
        """Add a run at the end of the queue; returns its id.

        With a worker, the run is inserted already claimed by it (status running): `cifar-tui run`
        trains what it inserts, and no other worker can take it in between.
        """
        with self.write():
            return self._insert(config, worker, sweep)

    def enqueue_sweep(self, configs: list[dict[str, Any]], sweep: str | None = None) -> tuple[str, list[int]]:
        """Queue a sweep's runs in one transaction, tagged with its name (the next free sN when
        none is given); returns (name, ids)."""
        with self.write():
            if sweep is None:
                sweep = self._next_sweep_name()
            return sweep, [self._insert(config, None, sweep) for config in configs]

    def enqueue_study(
        self, values: dict[str, Any], preset: str | None, settings: StudySettings, name: str | None = None
    ) -> tuple[str, list[int]]:
        """Start a search over a sweep's values (store/study.py): its row and its first K trials,
        in one transaction; returns (name, the queued ids). A name is a sweep's (the next free sN
        by default) and is never a second search's."""
        space, fixed = study.search_space(values, preset)
        study.check_grid(settings, space)
        study.warm_up()  # Optuna's import, before the write lock is taken
        with self.write():
            name = name if name is not None else self._next_sweep_name()
            if self.db.execute("SELECT 1 FROM runs WHERE sweep = ? LIMIT 1", [name]).fetchone() or study.settings_of(
                self.db, name
            ):
                raise ConfigError("sweep-name", f"{name!r} already names runs; a search takes a new name")
            study.create(self.db, name, settings, space, fixed, preset, now())
            return name, study.top_up(self.db, name, lambda config, sweep: self._insert(config, None, sweep))

    def top_up_studies(self) -> list[int]:
        """Queue the trials that searches want now (each keeps K queued or running); the ids."""
        if not study.unfinished(self.db):
            return []
        self.interrupt_orphans()  # a dead worker's trial is in flight no more: the search goes on
        if not study.open_studies(self.db):
            return []
        study.warm_up()
        with self.write():
            return [
                run_id
                for name in study.open_studies(self.db)
                for run_id in study.top_up(self.db, name, lambda config, sweep: self._insert(config, None, sweep))
            ]

    def pruned_by_search(self, run_id: int) -> bool:
        """Whether a search's pruner judges this run's epochs: a trial of a search that prunes,
        not stopped by it before (a resumed pruned trial trains to its end)."""
        row = self.db.execute(
            f"""SELECT 1 FROM runs r JOIN studies s ON s.name = r.sweep
                WHERE r.id = ? AND r.trial IS NOT NULL AND s.prune != 'none'
                AND json_extract(coalesce(r.trial_attrs, '{{}}'), '$."{PRUNED_AT}"') IS NULL""",
            [run_id],
        ).fetchone()
        return row is not None

    def judge_trial(self, epoch_end: Any, seen: dict[int, float]) -> bool:
        """A trial's pruner's verdict on this epoch (an EpochEnd): True to go on. seen: its
        objective at each epoch so far, which this adds to (the recorder may not have written
        the newest yet)."""
        objective = study.objective_of(self.db, epoch_end.run_id)
        if objective is None:
            return True
        seen[epoch_end.epoch] = getattr(epoch_end, objective)
        study.warm_up()
        with self.write():
            return study.judge(self.db, epoch_end.run_id, seen)

    def studies(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        """Each search's progress: trials by status, the best objective so far (store/study.py)."""
        return study.progress(self.db, names)

    def _next_sweep_name(self) -> str:
        numbers = [
            int(row[0][1:])
            for row in self.db.execute(
                "SELECT DISTINCT sweep FROM runs WHERE sweep GLOB 's[0-9]*' UNION SELECT name FROM studies"
            )
            if row[0][1:].isdigit() and row[0].startswith("s")
        ]
        return f"s{max(numbers, default=0) + 1}"

    def _insert(self, config: dict[str, Any], worker: str | None, sweep: str | None) -> int:
        stamp = now()
        cursor = self.db.execute(
            """INSERT INTO runs (name, status, model, dataset, epochs, config, queue_pos, created_at,
                                 worker, started_at, heartbeat_at, sweep, group_key, claim)
               VALUES (?, ?, ?, ?, ?, ?, (SELECT coalesce(max(queue_pos), 0) + 1 FROM runs), ?, ?, ?, ?, ?, ?, ?)""",
            [
                config.get("name", ""),
                "queued" if worker is None else "running",
                user_model_label(config["model"], config["model_source"])
                if config.get("model_source")
                else config["model"],
                config["dataset"],
                config["epochs"],
                json.dumps(config, sort_keys=True),
                stamp,
                worker,
                *((None, None) if worker is None else (stamp, stamp)),
                sweep,
                group_key(config),
                0 if worker is None else 1,
            ],
        )
        return cursor.lastrowid

    def claim_next(self, worker: str | None = None, devices: tuple[str, ...] = ()) -> Claim | None:
        """Take the first queued run for this worker, atomically; None when the queue is empty.
        With devices, only a run queued for one of them (or for auto)."""
        for_device = f"AND json_extract(config, '$.device') IN ({', '.join('?' * len(devices))})" if devices else ""
        self.top_up_studies()
        return self._claim(
            f"SELECT id FROM runs WHERE status = 'queued' {for_device} ORDER BY queue_pos, id LIMIT 1",
            list(devices),
            worker,
            ("queued",),
        )

    def claim(self, run_id: int, worker: str | None = None) -> Claim | None:
        """Take one particular queued run; None if it is not queued (any more)."""
        return self._claim("SELECT ?", [run_id], worker, ("queued",))

    def claim_to_resume(self, run_id: int, worker: str | None = None) -> Claim | None:
        """Take an interrupted, failed or cancelled run straight back to running for this worker;
        None if it is not in one of those states (another process resumed it first, say)."""
        return self._claim("SELECT ?", [run_id], worker, RESUMABLE)

    def _claim(self, pick_sql: str, params: list, worker: str | None, from_statuses: tuple[str, ...]) -> Claim | None:
        # One UPDATE guarded by the status in a write transaction: two workers never take the
        # same run, and the one that does not get it learns so from the empty RETURNING.
        allowed = ", ".join("?" * len(from_statuses))
        with self.write():
            rows = self.db.execute(
                f"""UPDATE runs SET status = 'running', worker = ?, started_at = coalesce(started_at, ?),
                    heartbeat_at = ?, finished_at = NULL, error = NULL, error_detail = NULL, cancel_requested = 0,
                    pause_requested = 0, claim = claim + 1
                    WHERE id = ({pick_sql}) AND status IN ({allowed}) RETURNING id, config, claim""",
                [worker or worker_id(), now(), now(), *params, *from_statuses],
            ).fetchall()  # all of it: a RETURNING statement must finish before COMMIT
        row = rows[0] if rows else None
        return None if row is None else Claim(row[0], json.loads(row[1]), row[2])

    def queue(self) -> list[dict[str, Any]]:
        """Running runs, then queued ones in the order they will run; configs parsed."""
        rows = self._dicts(f"SELECT * FROM runs WHERE {QUEUE_WHERE} ORDER BY status = 'queued', queue_pos, id")
        for row in rows:
            row["config"] = json.loads(row["config"])
        return rows

    def move(self, run_id: int, offset: int) -> bool:
        """Move a queued run `offset` places later (negative: earlier) among the queued runs."""
        with self.write():
            ids = [
                row[0] for row in self.db.execute("SELECT id FROM runs WHERE status = 'queued' ORDER BY queue_pos, id")
            ]
            if run_id not in ids:
                return False
            index = ids.index(run_id)
            new_index = max(0, min(len(ids) - 1, index + offset))
            if new_index == index:
                return False
            ids.insert(new_index, ids.pop(index))
            self.db.conn.executemany(
                "UPDATE runs SET queue_pos = ? WHERE id = ?", [(pos + 1, rid) for pos, rid in enumerate(ids)]
            )
        return True

    def requeue(self, run_id: int) -> bool:
        """Queue an interrupted, failed, cancelled or pruned run again (it continues from its
        checkpoint; a pruned trial trains to its end)."""
        with self.write():
            cursor = self.db.execute(
                """UPDATE runs SET status = 'queued', worker = NULL, heartbeat_at = NULL,
                   queue_pos = (SELECT coalesce(max(queue_pos), 0) + 1 FROM runs)
                   WHERE id = ? AND status IN (?, ?, ?, ?)""",
                [run_id, *RESUMABLE],
            )
        return cursor.rowcount == 1

    def request_cancel(self, run_id: int) -> bool:
        """Ask the worker training a run (in whatever process) to stop it; False if it is not running."""
        with self.write():
            cursor = self.db.execute(
                "UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", [run_id]
            )
        return cursor.rowcount == 1

    def request_pause(self, run_id: int, paused: bool = True) -> bool:
        """Ask the worker training a run to hold it at its next batch (or to go on); False if it
        is not running."""
        with self.write():
            cursor = self.db.execute(
                "UPDATE runs SET pause_requested = ? WHERE id = ? AND status = 'running'", [int(paused), run_id]
            )
        return cursor.rowcount == 1

    def control_requests(self, worker: str) -> dict[int, tuple[bool, bool]]:
        """This worker's running runs: run id -> (cancel requested, pause requested)."""
        return {
            row[0]: (bool(row[1]), bool(row[2]))
            for row in self.db.execute(
                "SELECT id, cancel_requested, pause_requested FROM runs WHERE worker = ? AND status = 'running'",
                [worker],
            )
        }

    def pause_worker(self, worker: str, paused: bool = True) -> None:
        """Hold (or release) a worker's queue: it finishes its run and claims no new one."""
        with self.write():
            self.db.execute(
                "INSERT INTO workers (name, paused) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
                [worker, int(paused)],
            )

    def register_worker(self, worker: str, devices: list[str], pool: str | None = None) -> None:
        """A worker says what it can train on, and the pool it belongs to if any (it keeps any
        pause request already made for it)."""
        with self.write():
            self.db.execute(
                "INSERT INTO workers (name, devices, pool) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET devices = excluded.devices, pool = excluded.pool",
                [worker, json.dumps(devices), pool],
            )

    def known_devices(self) -> set[str]:
        """Every device some worker of this store (on any machine) registered."""
        rows = self.db.execute("SELECT devices FROM workers WHERE devices IS NOT NULL").fetchall()
        return {device for (devices,) in rows for device in json.loads(devices)}

    def worker_devices(self, worker: str) -> list[str] | None:
        """The devices a worker registered; None before it has."""
        row = self.db.execute("SELECT devices FROM workers WHERE name = ?", [worker]).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def worker_paused(self, worker: str) -> bool:
        """Its queue is held: asked of the worker itself, or of the pool it belongs to."""
        row = self.db.execute(
            "SELECT max(paused) FROM workers WHERE name = ? OR name = (SELECT pool FROM workers WHERE name = ?)",
            [worker, worker],
        ).fetchone()
        return bool(row and row[0])

    def cancel_queued(self, run_id: int) -> bool:
        """Cancel a run that has not started; False if it is not queued."""
        with self.write():
            cursor = self.db.execute(
                "UPDATE runs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'queued'",
                [now(), run_id],
            )
        return cursor.rowcount == 1

    # ------------------------------------------------------------ reading

    def runs(self, ids: list[int] | None = None) -> list[dict[str, Any]]:
        """The run table (RUN_COLUMNS, tags parsed), newest first, or the given runs in that order."""
        if ids is None:
            return self.find()
        columns = ", ".join(RUN_COLUMNS)
        by_id = {
            row["id"]: row
            for row in self._runs(f"SELECT {columns} FROM runs WHERE id IN ({', '.join('?' * len(ids))})", list(ids))
        }
        return [by_id[run_id] for run_id in ids if run_id in by_id]

    def find(
        self, filter_text: str = "", sort: str = "-id", limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The runs a filter (store/run_filter.py) keeps, sorted in SQL, a page at a time."""
        where, params = compile_filter(filter_text)
        page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
        return self._runs(
            f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE {where} ORDER BY {order_sql(sort)}{page}", params
        )

    def count(self, filter_text: str = "") -> int:
        where, params = compile_filter(filter_text)
        return self.db.execute(f"SELECT count(*) FROM runs WHERE {where}", params).fetchone()[0]

    def configs(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Run id -> its config, parsed."""
        marks = ", ".join("?" * len(ids))
        rows = self.db.execute(f"SELECT id, config FROM runs WHERE id IN ({marks})", list(ids))
        return {run_id: json.loads(config) for run_id, config in rows}

    def groups(self, filter_text: str = "", sort: str = "-id", limit: int | None = None) -> list[dict[str, Any]]:
        """One row per group of the runs a filter keeps (store/groups.py): n, means, stds; the
        group's first run's config under `config`."""
        where, params = compile_filter(filter_text)
        field = sort.lstrip("-+").removesuffix("_mean")
        descending = "DESC" if sort.startswith("-") else "ASC"
        order = (
            f"({field}_mean IS NULL), {field}_mean {descending}"
            if field in MEASURES
            else f"(g.{field} IS NULL), g.{field} {descending}"
            if field in ("id", "n", "runs", "sweep", *MEANS)
            else f"({field_sql(field, 'sort')[0]} IS NULL), {field_sql(field, 'sort')[0]} {descending}"
        )
        page = f" LIMIT {int(limit)}" if limit is not None else ""
        sql = f"""SELECT g.*, runs.config AS config, runs.name AS name, runs.model AS model,
                         runs.dataset AS dataset, runs.epochs AS epochs
                  FROM ({group_sql(where)}) AS g JOIN runs ON runs.id = g.id
                  ORDER BY {order}, g.id DESC{page}"""
        rows = [finish_group(row) for row in self._dicts(sql, params)]
        for row in rows:
            row["config"] = json.loads(row["config"])
        return rows

    def held_out_of_groups(self, filter_text: str = "") -> dict[str, list[dict[str, Any]]]:
        """The held-out summaries (runs.evals) of each group's finished runs that have any, by
        group key: only those runs are read, so a store without held-out sets pays nothing."""
        where, params = compile_filter(filter_text)
        rows = self.db.execute(
            f"SELECT group_key, evals FROM runs WHERE ({where}) AND status = 'finished' AND evals IS NOT NULL", params
        ).fetchall()
        found: dict[str, list[dict[str, Any]]] = {}
        for key, evals in rows:
            found.setdefault(key, []).append(json.loads(evals))
        return found

    def varying_fields(self, filter_text: str = "") -> list[str]:
        """The config fields whose value differs among the runs a filter keeps, in declaration order."""
        return self._varying(*compile_filter(filter_text))

    def queue_varying_fields(self) -> list[str]:
        """The config fields whose value differs among the queue's runs (running and queued)."""
        return self._varying(QUEUE_WHERE, [])

    def varying_fields_of(self, run_ids: list[int]) -> list[str]:
        """The config fields whose value differs among these runs (compare's rows), in declaration
        order (model_source, an internal field, where it is declared: after model)."""
        where = f"id IN ({', '.join('?' * len(run_ids))})"
        sources = self.db.execute(
            f"SELECT count(DISTINCT coalesce(json_extract(config, '$.model_source'), '')) FROM runs WHERE {where}",
            run_ids,
        ).fetchone()[0]
        fields = self._varying(where, list(run_ids))
        if sources > 1:
            fields.insert(fields.index("model") + 1 if "model" in fields else 0, "model_source")
        return fields

    def _varying(self, where: str, params: list[Any]) -> list[str]:
        counts = ", ".join(f"count(DISTINCT json_extract(config, '$.{f}'))" for f in TYPED_FIELDS)
        row = self.db.execute(f"SELECT {counts} FROM runs WHERE {where}", params).fetchone()
        return [field for field, distinct in zip(TYPED_FIELDS, row) if distinct > 1]

    def _runs(self, sql: str, params: list) -> list[dict[str, Any]]:
        rows = self._dicts(sql, params)
        for row in rows:
            _parse_lists(row)
        return rows

    def run(self, run_id: int) -> dict[str, Any] | None:
        """One run with every column, its config parsed; None if there is no such run."""
        rows = self._dicts("SELECT * FROM runs WHERE id = ?", [run_id])
        if not rows:
            return None
        row = rows[0]
        row["config"] = json.loads(row["config"])
        return _parse_lists(row)

    def newest_training(self) -> int | None:
        """The run that started training last among those still training (any worker)."""
        row = self.db.execute(
            "SELECT id FROM runs WHERE status = 'running' AND total_steps IS NOT NULL "
            "ORDER BY started_at DESC, id DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def losses_from(self, run_id: int, first_step: int) -> list[tuple[int, int, float]]:
        """(step, epoch, loss) rows of a run from first_step on, in order."""
        return self.db.execute(
            "SELECT step, epoch, loss FROM losses WHERE run_id = ? AND step >= ? ORDER BY step", [run_id, first_step]
        ).fetchall()

    def training_runs_of(self, worker: str) -> list[int]:
        """The runs this worker (or, for a pool, its members) trains now."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM runs WHERE status = 'running' "
                "AND (worker = ? OR worker IN (SELECT name FROM workers WHERE pool = ?)) ORDER BY id",
                [worker, worker],
            )
        ]

    def last_ending(self) -> str:
        """When the most recent run ended ("" if none has): viewers announce only later endings."""
        return self.db.execute("SELECT coalesce(max(finished_at), '') FROM runs").fetchone()[0]

    def ended_since(self, finished_after: str) -> list[dict[str, Any]]:
        """Runs that finished, failed, were interrupted or pruned after that moment, oldest first, config parsed."""
        rows = self._dicts(
            "SELECT * FROM runs WHERE finished_at > ? AND status IN ('finished', 'failed', "
            "'interrupted', 'pruned') ORDER BY finished_at, id",
            [finished_after],
        )
        for row in rows:
            row["config"] = json.loads(row["config"])
        return rows

    def epochs(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._dicts("SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", [run_id])
        return [parse_row(row) for row in rows]

    def losses_every(self, run_id: int, every: int = 1) -> list[tuple[int, int, int, float]]:
        """(run_id, step, epoch, loss) of every `every`-th step, in order."""
        return [
            tuple(row)
            for row in self.db.execute(
                "SELECT run_id, step, epoch, loss FROM losses WHERE run_id = ? AND step % ? = 0 ORDER BY step",
                [run_id, every],
            )
        ]

    def loss_count(self, run_id: int) -> int:
        return self.db.execute("SELECT count(*) FROM losses WHERE run_id = ?", [run_id]).fetchone()[0]

    def loss_curve(self, run_id: int, max_points: int = 2000) -> list[tuple[float, float]]:
        """(step, loss) pairs, averaged in SQL over equal buckets of steps to at most max_points."""
        return self.mean_loss_curve([run_id], max_points)

    def mean_loss_curve(self, run_ids: list[int], max_points: int = 2000) -> list[tuple[float, float]]:
        """The loss curve of several runs (a group's seeds) averaged together, bucketed in SQL."""
        marks = ", ".join("?" * len(run_ids))
        last = self.db.execute(f"SELECT max(step) FROM losses WHERE run_id IN ({marks})", run_ids).fetchone()[0]
        if last is None:
            return []
        bucket = max(1, -(-(last + 1) // max_points))
        return [
            tuple(row)
            for row in self.db.execute(
                f"""SELECT avg(step), avg(loss) FROM losses WHERE run_id IN ({marks})
                    GROUP BY step / ? ORDER BY step / ?""",
                [*run_ids, bucket, bucket],
            )
        ]

    def mean_test_acc(self, run_ids: list[int]) -> list[tuple[int, float]]:
        """(epoch, mean test accuracy over the runs that reached it)."""
        marks = ", ".join("?" * len(run_ids))
        return [
            tuple(row)
            for row in self.db.execute(
                f"SELECT epoch, avg(test_acc) FROM epochs WHERE run_id IN ({marks}) GROUP BY epoch ORDER BY epoch",
                run_ids,
            )
        ]

    def _dicts(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params or []))

    # ------------------------------------------------------------ changing

    def user_models(self) -> list[dict[str, Any]]:
        """The model files of recorded runs, one row per file and source version, newest first."""
        return self._dicts(
            """SELECT model, count(*) AS runs, max(id) AS last, max(params) AS params FROM runs
               WHERE json_extract(config, '$.model_source') != '' GROUP BY model ORDER BY last DESC"""
        )

    @staticmethod
    def tag_problem(tag: str) -> str | None:
        """Why a word cannot be a tag (one printable word of at most 50 characters, no commas)."""
        if not tag or len(tag) > 50 or "," in tag or unprintable(tag) or any(ch.isspace() for ch in tag):
            return f"{tag!r} is not a tag; a tag is one printable word of at most 50 characters, without commas"
        return None

    @classmethod
    def tag_changes(cls, words: list[str]) -> tuple[list[str], list[str]]:
        """The tag syntax, for the CLI and the app: +name (or a bare name) adds, -name removes.
        (tags to add, tags to remove); ValueError naming the first word that is not a tag."""
        add = [word[1:] if word.startswith("+") else word for word in words if not word.startswith("-")]
        remove = [word[1:] for word in words if word.startswith("-")]
        if problem := next(filter(None, map(cls.tag_problem, add + remove)), None):
            raise ValueError(problem)
        return add, remove

    @staticmethod
    def note_problem(note: str) -> str | None:
        """Why a text cannot be a note (printable, at most NOTE_LIMIT characters); None if it can."""
        if problem := unprintable(note):
            return f"a note {problem}"
        if len(note) > NOTE_LIMIT:
            return f"a note holds at most {NOTE_LIMIT:,} characters (got {len(note):,})"
        return None

    def tag(self, run_id: int, add: list[str] = (), remove: list[str] = ()) -> list[str] | None:
        """Add and remove tags of a run; its tags after, or None if there is no such run.
        ValueError for a word that is not a tag (tag_problem)."""
        if problem := next(filter(None, map(self.tag_problem, [*add, *remove])), None):
            raise ValueError(problem)
        with self.write():
            row = self.db.execute("SELECT tags FROM runs WHERE id = ?", [run_id]).fetchone()
            if row is None:
                return None
            tags = [t for t in json.loads(row[0] or "[]") if t not in remove]
            tags += [t for t in dict.fromkeys(add) if t not in tags]
            self.db.execute("UPDATE runs SET tags = ? WHERE id = ?", [json.dumps(tags), run_id])
        return tags

    def set_note(self, run_id: int, note: str) -> bool:
        """ValueError for a text that cannot be a note (note_problem)."""
        if problem := self.note_problem(note):
            raise ValueError(problem)
        with self.write():
            return self.db.execute("UPDATE runs SET note = ? WHERE id = ?", [note, run_id]).rowcount == 1

    def rename(self, run_id: int, name: str) -> bool:
        """A new name, in the run's row and in its config (so that clones and exports agree)."""
        with self.write():
            return (
                self.db.execute(
                    "UPDATE runs SET name = ?, config = json_set(config, '$.name', ?) WHERE id = ?",
                    [name, name, run_id],
                ).rowcount
                == 1
            )

    def delete(self, run_id: int) -> bool:
        """Delete a run that is not running, with its epochs and losses."""
        with self.write():
            cursor = self.db.execute("DELETE FROM runs WHERE id = ? AND status != 'running'", [run_id])
        return cursor.rowcount == 1


def _explain(error: sqlite3.DatabaseError, path: Path | None, busy_timeout_s: float) -> str:
    text = str(error)
    if "not a database" in text or "malformed" in text:
        return f"{path} is not a cifar-tui database (sqlite says: {text}); move it away or use another --home"
    if "locked" in text or "busy" in text:
        return f"{path} stayed locked by another program for {busy_timeout_s:g} s; try again when it is done"
    if "disk is full" in text:
        return f"no space left for {path}: free some space, then try again"
    return f"cannot open {path}: {text}"


def _parse_lists(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON columns (tags, classes, evals) as lists and dicts: empty where none was recorded."""
    for column, kind in LISTS.items():
        if column in row:
            row[column] = json.loads(row[column]) if row[column] else kind()
    return row
