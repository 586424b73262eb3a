"""The run store's the queue: runs, sweeps and searches queued, claimed by workers, moved and requeued
(a part of RunStore, store/runs.py)."""

from __future__ import annotations

import json
from typing import Any

from ..engine.config import ConfigError, user_model_label
from . import study
from .groups import group_key
from .run_records import (
    PRUNED_AT,
    QUEUE_WHERE,
    RESUMABLE,
    Claim,
    now,
    worker_id,
)
from .study import StudySettings


class RunQueue:
    """Of RunStore: uses its db, write() and _dicts()."""

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

    def cancel_queued(self, run_id: int) -> bool:
        """Cancel a run that has not started; False if it is not queued."""
        with self.write():
            cursor = self.db.execute(
                "UPDATE runs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'queued'",
                [now(), run_id],
            )
        return cursor.rowcount == 1
