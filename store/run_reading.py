"""The run store's reading: the run table, groups, varying fields, a run, its epochs and losses
(a part of RunStore, store/runs.py)."""

from __future__ import annotations

import json
from typing import Any

from ..engine.config import TYPED_FIELDS
from .columns import LISTS, MEANS
from .epoch_row import parse_row
from .groups import MEASURES, finish_group, group_sql
from .run_filter import compile_filter, field_sql, order_sql
from .run_records import (
    QUEUE_WHERE,
    RUN_COLUMNS,
)


class RunReading:
    """Of RunStore: uses its db, write() and _dicts()."""

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
                         runs.dataset AS dataset, runs.epochs AS epochs,
                         json_extract(runs.environment, '$.data_files') AS data_files
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

    def ledger(self) -> list[dict[str, Any]]:
        """Each preset's published figure beside its finished runs' (store/ledger.py)."""
        from .ledger import ledger

        return ledger(self.db)

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

    def held_out_by_epoch(self, run_id: int) -> dict[int, dict[str, float]]:
        """epoch -> held-out set ("cifar10.1", or a part of one: "cifar10-c/gaussian_noise/3") ->
        its accuracy, for exports that go epoch by epoch."""
        found: dict[int, dict[str, float]] = {}
        for epoch, label, part, acc in self.db.execute(
            "SELECT epoch, label, part, acc FROM evaluations WHERE run_id = ? ORDER BY epoch, label, part", [run_id]
        ):
            found.setdefault(epoch, {})[f"{label}/{part}" if part else label] = acc
        return found

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


def _parse_lists(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON columns (tags, classes, evals) as lists and dicts: empty where none was recorded."""
    for column, kind in LISTS.items():
        if column in row:
            row[column] = json.loads(row[column]) if row[column] else kind()
    return row
