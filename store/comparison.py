"""Sets of runs compared (each chosen by a filter): each set's n, mean and std of a measure over
its finished runs, and each set's difference from the first with a 95% confidence interval and
Welch's p-value (store/confidence.py). With more than two sets, each is compared with the first.
Where the sets' environments differ (engine/environment.py), field by field, each set's value."""

from __future__ import annotations

import statistics
from typing import Any

from ..engine.environment import ENVIRONMENT
from .confidence import difference, p_differs, summarize


def compare_sets(
    store, filters: list[str], measure: str = "test_acc", reference: str | None = None
) -> list[dict[str, Any]]:
    """A row per filter: set, n, mean, std, (after the first) diff, ci_low, ci_high, p_value, and
    environment: the fields in which the sets' environments differ, with this set's value; with
    `reference` (a preset), its published figure's row last."""
    runs = [store.find(f"{text} status=finished".strip(), limit=None) for text in filters]
    samples = [[run[measure] for run in found if isinstance(run.get(measure), (int, float))] for found in runs]
    differing = environment_differences(runs)
    rows = []
    for index, (text, values) in enumerate(zip(filters, samples)):
        row: dict[str, Any] = {
            "set": text,
            "n": len(values),
            "mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else None,
        }
        if rows:
            row.update(difference(samples[0], values) or dict.fromkeys(("diff", "ci_low", "ci_high", "p_value")))
        row["environment"] = {key: cells[index] for key, cells in differing.items()}
        rows.append(row)
    if reference is not None:
        rows.append(reference_row(samples[0], reference))
    return rows


def reference_row(first: list[float], preset: str) -> dict[str, Any]:
    """A preset's published test accuracy as a row after compare_sets': its difference from the
    first set's mean, that difference's 95% CI (the first set's interval, mirrored) and a
    one-sample t-test's p-value of the first set's mean against it."""
    from ..engine.presets import REFERENCES

    reference = REFERENCES[preset]
    stats = summarize(first)
    row: dict[str, Any] = {
        "set": f"published: {preset} ({reference.source})",
        "n": reference.n,
        "mean": reference.accuracy,
        "std": None,
        "diff": reference.accuracy - stats["mean"] if first else None,
        "ci_low": reference.accuracy - stats["ci_high"] if stats["ci_high"] is not None else None,
        "ci_high": reference.accuracy - stats["ci_low"] if stats["ci_low"] is not None else None,
        "p_value": p_differs(first, reference.accuracy),
        "environment": {},
    }
    return row


def _text(value: Any) -> str:
    return "none" if value is None else str(value)  # a CPU run's GPU


MIXED = "mixed: "  # a set whose own runs differ in a field: "mixed: 2.11.0, 2.14.1"


def environment_differences(sets: list[list[dict[str, Any]]]) -> dict[str, list[str]]:
    """The environment fields in which sets of runs differ (or a set's runs among themselves),
    each with a cell per set: its runs' one value, "mixed: a, b", or "" where none recorded one."""
    differing = {}
    for field in ENVIRONMENT:
        cells = []
        for runs in sets:
            values = {_text(run["environment"].get(field.key)) for run in runs if run.get("environment")}
            cells.append(MIXED + ", ".join(sorted(values)) if len(values) > 1 else next(iter(values), ""))
        recorded = [cell for cell in cells if cell]
        if len(set(recorded)) > 1 or any(cell.startswith(MIXED) for cell in recorded):
            differing[field.key] = cells
    return differing
