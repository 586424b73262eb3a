"""What a figure draws a line (a bar, a point) for: each run a FILTER keeps, or each group of them
(runs that differ only in seed), oldest first. An entry's colour is its place in that order,
so one FILTER gives a run the same colour in every figure (and every figure of a report), and a
run added later takes the next colour instead of shifting the others."""

from __future__ import annotations

from dataclasses import dataclass

from ...store.export import PLUS_MINUS
from ...store.groups import NOT_GROUPED
from ...store.runs import RunStore
from ..safe_text import middle_cut
from .style import colour, dash

NAMED_FIELDS = 3  # a label names at most this many varying fields
VALUE_WIDTH = 18  # a field's value in a label, at most (a path is cut in its middle)


@dataclass(frozen=True)
class Entry:
    label: str  # the legend's text: literal, whatever the run's name holds
    run_ids: tuple[int, ...]  # the run, or the group's runs
    finished: tuple[int, ...]  # of those, the finished ones: what a group's statistics are over
    index: int  # its place among the entries: its colour and dash

    @property
    def grouped(self) -> bool:
        return len(self.run_ids) > 1

    @property
    def colour(self) -> str:
        return colour(self.index)

    @property
    def dash(self) -> str:
        return dash(self.index)


def entries(store: RunStore, filter_text: str, grouped: bool) -> list[Entry]:
    """The runs (or groups) a filter keeps, oldest first, each labelled by its name or by the
    config fields that vary among them."""
    varying = store.varying_fields(filter_text)
    if grouped:
        varying = [f for f in varying if f not in NOT_GROUPED]
        rows = store.groups(filter_text, sort="+id")
        statuses = {r["id"]: r["status"] for r in store.find(filter_text)}
        return [
            Entry(
                _label(row["config"], varying, row["name"]) + f" (n={row['n']})",
                tuple(row["ids"]),
                tuple(i for i in row["ids"] if statuses.get(i) == "finished"),
                index,
            )
            for index, row in enumerate(rows)
        ]
    varying = [f for f in varying if f not in ("name", "preset")]
    rows = store.find(filter_text, sort="+id")
    configs = store.configs([r["id"] for r in rows]) if rows else {}
    return [
        Entry(
            f"{row['id']}: " + _label(configs[row["id"]], varying, row["name"]),
            (row["id"],),
            (row["id"],) if row["status"] == "finished" else (),
            index,
        )
        for index, row in enumerate(rows)
    ]


def _label(config: dict, varying: list[str], name: str | None) -> str:
    """Its name; else the fields that vary among the entries; else its model (all else is equal)."""
    if name:
        return name
    named = ", ".join(f"{field}={_shown(config.get(field))}" for field in varying[:NAMED_FIELDS])
    return named + (", …" if len(varying) > NAMED_FIELDS else "") if named else str(config.get("model"))


def _shown(value) -> str:
    """A field's value in a legend: short (a path cut in the middle), an empty text visible."""
    text = '""' if value == "" else str(value)
    return middle_cut(text, VALUE_WIDTH)


def band_words(plus_minus: str) -> str:
    """What a group's band is, for the legend's title."""
    return f"band: {PLUS_MINUS[plus_minus]} over a group's finished runs"
