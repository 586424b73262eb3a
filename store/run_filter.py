"""The run filter language, compiled to SQL: field conditions beside free text.

    lr<0.01 model=seed-cnn status=finished sweep=s3 tag:baseline resnet

A condition is FIELD OP VALUE (OP one of = != < <= > >=) on a run column or a config field;
`tag:NAME` keeps runs with that tag; any other word must appear in the run's id, name, status,
model, dataset, sweep, tags or note. Words and conditions all have to hold.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from ..engine.config import FIELD_TYPES
from ..engine.text import unprintable
from .columns import FILTER_FIELDS, eval_sql
from .schema import STATUSES

RUN_FIELDS = FILTER_FIELDS  # store/columns.py
CONDITION = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*?)(<=|>=|!=|=|<|>)(.*)$")
TEXT_COLUMNS = ("name", "status", "model", "dataset", "sweep", "tags", "note")


class FilterError(ValueError):
    """A filter that cannot be read; the message names the part and what is allowed."""


def field_sql(field: str, used_in: str = "filter") -> tuple[str, type]:
    """(SQL expression, type) of a field a filter or a sort may name."""
    if field in RUN_FIELDS:
        return field, RUN_FIELDS[field]
    if field in FIELD_TYPES:
        return f"json_extract(config, '$.{field}')", FIELD_TYPES[field]
    if (sql := eval_sql(field)) is not None:
        return sql, float
    known = ", ".join(sorted(set(RUN_FIELDS) | set(FIELD_TYPES)))
    raise FilterError(
        f"{used_in}: unknown field {field!r}; known: {known}, and a held-out set's SET_acc, SET_gap, SET_loss, "
        "SET_s1..SET_s5 (cifar10.1_acc)"
    )


def compile_filter(text: str) -> tuple[str, list[Any]]:
    """(WHERE clause, parameters); an empty filter keeps every run."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()  # an unclosed quote: take the words as they are
    clauses, params = [], []
    for word in words:
        if problem := unprintable(word):
            raise FilterError(f"filter: {word!r} {problem}; type it without")
        if word.lower().startswith("tag:"):
            if not word[4:]:
                raise FilterError("filter: tag: needs a name (tag:baseline)")
            clauses.append("EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = ?)")
            params.append(word[4:])
            continue
        match = CONDITION.match(word)
        if match:
            clause, values = _condition(*match.groups())
            clauses.append(clause)
            params += values
            continue
        pattern = "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ors = [f"lower({c}) LIKE ? ESCAPE '\\'" for c in TEXT_COLUMNS] + ["CAST(id AS TEXT) = ?"]
        clauses.append("(" + " OR ".join(ors) + ")")
        params += [pattern] * len(TEXT_COLUMNS) + [word]
    return (" AND ".join(clauses) or "1"), params


def _condition(field: str, op: str, raw: str) -> tuple[str, list[Any]]:
    sql, kind = field_sql(field)
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered not in ("true", "false", "on", "off", "yes", "no", "1", "0"):
            raise FilterError(f"filter: {field} is true or false (got {raw!r})")
        value: Any = int(lowered in ("true", "on", "yes", "1"))
    elif kind in (int, float):
        try:
            numbers = [float(part) for part in raw.split(",")]
        except ValueError:
            raise FilterError(f"filter: {field} is a number (got {raw!r})") from None
        if field == "id" and any(n < 1 or n != int(n) for n in numbers):
            raise FilterError(f"filter: run ids are whole numbers from 1 (got {raw!r})")
        if len(numbers) > 1 and op in ("=", "!="):  # id=3,4,5: any of them
            marks = ", ".join("?" * len(numbers))
            return f"{'' if op == '=' else 'NOT '}coalesce({sql} IN ({marks}), 0)", numbers
        value = numbers[0]
    else:
        if op not in ("=", "!="):
            raise FilterError(f"filter: {field} is text; compare it with = or != (got {op})")
        if field == "status" and raw.lower() not in STATUSES:
            raise FilterError(f"filter: unknown status {raw!r}; known: {', '.join(STATUSES)}")
        return f"coalesce({sql}, '') {'=' if op == '=' else '!='} ? COLLATE NOCASE", [raw]
    if op == "!=":
        return f"({sql} IS NULL OR {sql} != ?)", [value]
    return f"{sql} {'=' if op == '=' else op} ?", [value]


def order_sql(sort: str) -> str:
    """ORDER BY for `field` (ascending) or `-field` (descending); runs without a value last."""
    descending = sort.startswith("-")
    field = sort.lstrip("-+")
    if not field:
        raise FilterError(f"sort: {sort!r} names no field; give one such as test_acc or -test_acc")
    sql, _ = field_sql(field, "sort")
    return f"({sql} IS NULL), {sql} {'DESC' if descending else 'ASC'}, id DESC"
