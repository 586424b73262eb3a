"""A search's charts (compare, when the runs are one search's trials): the best objective so far
against the trial number, and the objective against each searched field, a dot per trial
(finished and pruned in their own colours; a field of wide positive numbers on a log scale)."""

from __future__ import annotations

import math
from typing import Any

from .loss_chart import Series

MAX_FIELDS = 3  # charts of the objective against a field, beside the best-so-far one


def search_charts(settings: dict[str, Any], outcomes: list[dict[str, Any]], best: list[tuple[int, float]]):
    """[(title, x label, series)] for the search described by settings (store/study.settings_of)."""
    objective = settings["objective"]
    charts = [
        (f"best {objective} so far", "trial", [Series("best", [n for n, _ in best], [v for _, v in best], "cyan")])
    ]
    for field, axis in list(settings["space"].items())[:MAX_FIELDS]:
        choices = axis.get("choices")
        log = _log_scale(axis)
        series = []
        for status, color in (("finished", "cyan"), ("pruned", "magenta")):
            shown = [o for o in outcomes if o["status"] == status]
            xs = [_position(o["point"][field], choices, log) for o in shown]
            series.append(Series(status, xs, [o["value"] for o in shown], color, marker="point"))
        label = f"log10 {field}" if log else field
        if choices and not _numeric(choices):
            label += ": " + ", ".join(map(str, choices))
        charts.append((f"{objective} against {field}", label, series))
    return charts


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _log_scale(axis: dict[str, Any]) -> bool:
    values = axis.get("choices") or [axis["low"], axis["high"]]
    return _numeric(values) and min(values) > 0 and max(values) / min(values) >= 10


def _position(value: Any, choices: list[Any] | None, log: bool) -> float:
    """Where a trial's value sits on its chart's x axis (a choice that is not a number: its index)."""
    if choices and not _numeric(choices):
        return float(choices.index(value)) if value in choices else math.nan
    if not isinstance(value, (int, float)):
        return math.nan
    return math.log10(value) if log and value > 0 else float(value)
