"""Sets of runs compared (each chosen by a filter): each set's n, mean and std of a measure over
its finished runs, and each set's difference from the first with a 95% confidence interval and
Welch's p-value (store/confidence.py). With more than two sets, each is compared with the first."""

from __future__ import annotations

import statistics
from typing import Any

from cifar_tui.store.confidence import difference


def compare_sets(store, filters: list[str], measure: str = "test_acc") -> list[dict[str, Any]]:
    """A row per filter: set, n, mean, std, and (after the first) diff, ci_low, ci_high, p_value."""
    samples = [finished_values(store, text, measure) for text in filters]
    rows = []
    for text, values in zip(filters, samples):
        row: dict[str, Any] = {
            "set": text,
            "n": len(values),
            "mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else None,
        }
        if rows:
            row.update(difference(samples[0], values) or dict.fromkeys(("diff", "ci_low", "ci_high", "p_value")))
        rows.append(row)
    return rows


def finished_values(store, filter_text: str, measure: str) -> list[float]:
    return [
        run[measure]
        for run in store.find(f"{filter_text} status=finished".strip(), limit=None)
        if isinstance(run.get(measure), (int, float))
    ]
