"""An EpochEnd event <-> its row in `epochs`, made from the event's fields: a new per-epoch
measure is a field of EpochEnd and a column of the same name (a migration), nothing here."""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from typing import Any

from ..engine.events import EpochEnd

NOT_RECORDED = ("checkpoint_temp", "checkpoint")  # instructions to the recorder, not measures
COLUMNS = tuple(f.name for f in fields(EpochEnd) if f.name not in NOT_RECORDED)
JSON_COLUMNS = frozenset(f.name for f in fields(EpochEnd) if str(f.type).startswith("tuple"))  # stored as text
DEFAULTS = {f.name: f.default for f in fields(EpochEnd) if f.default is not MISSING}


def to_row(event: EpochEnd) -> dict[str, Any]:
    return {
        name: json.dumps(list(value)) if name in JSON_COLUMNS else value
        for name in COLUMNS
        for value in [getattr(event, name)]
    }


def parse_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as read, its JSON columns parsed to lists (in place, and returned)."""
    for name in JSON_COLUMNS:
        if name in row:
            row[name] = json.loads(row[name]) if row[name] else []
    return row


def to_event(row: dict[str, Any]) -> EpochEnd:
    """The event of a parsed row; a measure an older version did not record gets its default."""
    values = {}
    for name in COLUMNS:
        value = row.get(name)
        if value is None:
            value = DEFAULTS.get(name)
        values[name] = tuple(value) if name in JSON_COLUMNS else value
    return EpochEnd(**values)
