"""The run store's workers and control: heartbeats, holders, cancel and pause requests, devices, orphans
(a part of RunStore, store/runs.py)."""

from __future__ import annotations

import contextlib
import json

from .liveness import owner_alive
from .run_records import (
    now,
)


class WorkerControl:
    """Of RunStore: uses its db, write() and _dicts()."""

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
