"""Groups: runs whose configs differ only in seed (and name) are one experiment repeated, and
are reported together as n, mean and standard deviation."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from ..engine.config import RunConfig
from ..engine.environment import NOT_MARKING
from .columns import MEANS, MEASURES
from .confidence import interval

NOT_GROUPED = ("seed", "name", "preset")  # what may differ between the runs of one group (a preset's name
# only says where the same recipe came from)
# MEASURES are reported as mean ± std over finished runs, MEANS as means (store/columns.py)


def group_key(config: dict[str, Any]) -> str:
    """The same for two configs exactly when they differ only in NOT_GROUPED fields. A field at
    its default counts as absent: a run recorded before a field existed (its config lacks it)
    shares a group with one that has it at its default (m016 rekeyed the stored runs so)."""
    rest = {k: v for k, v in config.items() if k not in NOT_GROUPED and _text(v) != _DEFAULTS.get(k)}
    return hashlib.sha1(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:16]


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)  # a tuple and the list JSON gives back compare equal


_DEFAULTS = {name: _text(value) for name, value in RunConfig().to_dict().items()}


def group_sql(where: str) -> str:
    """One row per group of the runs matching `where`: counts, and the sums a mean and a sample
    standard deviation need (SQLite has no stdev; the square root is taken in Python)."""
    finished = "CASE WHEN status = 'finished' THEN {} END"
    stats = []
    for m in MEASURES:
        value = finished.format(m)
        stats += [f"avg({value}) AS {m}_mean", f"sum({value} * {value}) AS {m}_sumsq", f"count({value}) AS {m}_n"]
    stats += [f"avg({finished.format(m)}) AS {m}" for m in MEANS]
    # Environments its finished runs ran in, a host's name aside (engine/environment.py): above
    # one, the group's figures mix software or hardware and its row says so.
    marking = ", ".join(["environment", *(f"'$.{key}'" for key in NOT_MARKING)])
    stats.append(f"count(DISTINCT {finished.format(f'json_remove({marking})')}) AS environments")
    return f"""SELECT group_key, count(*) AS runs, count({finished.format("id")}) AS n,
                      coalesce(sum(status = 'pruned'), 0) AS pruned, min(id) AS id,
                      group_concat(id) AS ids, group_concat(DISTINCT sweep) AS sweep, {", ".join(stats)}
               FROM runs WHERE {where} GROUP BY group_key"""


def finish_group(row: dict[str, Any]) -> dict[str, Any]:
    """A group row from group_sql with each measure's std, standard error and 95% confidence
    interval over its finished runs (None below two: store/confidence.py), and their count."""
    for m in MEASURES:
        mean, sumsq, n = row.pop(f"{m}_mean"), row.pop(f"{m}_sumsq"), row.pop(f"{m}_n")
        variance = (sumsq - n * mean * mean) / (n - 1) if n and n > 1 else None
        row[f"{m}_mean"] = mean
        row[f"{m}_std"] = math.sqrt(max(0.0, variance)) if variance is not None else None
        row[f"{m}_sem"], row[f"{m}_ci_low"], row[f"{m}_ci_high"] = interval(mean, row[f"{m}_std"], n)
        row[f"{m}_n"] = n
    row["ids"] = sorted(int(i) for i in str(row["ids"]).split(","))
    return row
