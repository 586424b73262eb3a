"""The numbers a figure plots, read from the store: an entry's measure at each epoch (a group's
mean with its spread), its batch loss, its final results, its held-out sets and its confusion
matrix. Statistics are the store's own (store/confidence.py), as in the tables."""

from __future__ import annotations

from dataclasses import dataclass

from ...store.confidence import summarize
from ...store.runs import RunStore
from .entries import Entry


@dataclass(frozen=True)
class Point:
    """A value with its band: a run's value (no band), or a group's mean with low and high
    (mean ± std or s.e., or the 95% CI; none below two runs). partial: measured on part of the
    test set."""

    value: float
    low: float | None = None
    high: float | None = None
    partial: bool = False
    n: int = 1


def spread(values: list[float], plus_minus: str, partial: bool = False) -> Point | None:
    """values as one Point: itself for one value, the mean and its band for several."""
    if not values:
        return None
    figures = summarize(values)
    mean = figures["mean"]
    if len(values) < 2:
        return Point(mean, partial=partial)
    if plus_minus == "ci":
        low, high = figures["ci_low"], figures["ci_high"]
    else:
        half = figures[plus_minus]
        low, high = mean - half, mean + half
    return Point(mean, low, high, partial, len(values))


def by_epoch(store: RunStore, entry: Entry, measure: str, plus_minus: str) -> dict[int, Point]:
    """epoch -> the measure at that epoch: a run's (any status: a failed run's curve ends where
    it stopped), or over a group's finished runs that reached the epoch."""
    ids = entry.run_ids if not entry.grouped else entry.finished
    values: dict[int, list[float]] = {}
    partial: dict[int, bool] = {}
    for run_id in ids:
        for row in store.epochs(run_id):
            if row.get(measure) is not None:
                values.setdefault(row["epoch"], []).append(row[measure])
                partial[row["epoch"]] = partial.get(row["epoch"], False) or bool(row.get("eval_images"))
    return {epoch: spread(v, plus_minus, partial[epoch]) for epoch, v in sorted(values.items())}


def batch_loss(store: RunStore, entry: Entry, max_points: int = 2000) -> list[tuple[float, float]]:
    """(step, loss): a run's, or the mean over a group's finished runs, averaged in SQL over
    equal buckets of steps to at most max_points."""
    ids = list(entry.run_ids if not entry.grouped else entry.finished)
    return store.mean_loss_curve(ids, max_points) if ids else []


def final(store: RunStore, entry: Entry, column: str, plus_minus: str) -> Point | None:
    """A run's result column (any status that has it), or over a group's finished runs."""
    ids = entry.run_ids if not entry.grouped else entry.finished
    rows = store.runs(list(ids))
    values = [row[column] for row in rows if row.get(column) is not None]
    return spread(values, plus_minus, any(row.get("eval_images") for row in rows))


def held_out(store: RunStore, entry: Entry, plus_minus: str) -> dict[str, dict[str, Point]]:
    """set label -> figure (acc, gap, s1..s5) -> Point, from the runs' held-out summaries."""
    ids = entry.run_ids if not entry.grouped else entry.finished
    collected: dict[str, dict[str, list[float]]] = {}
    for row in store.runs(list(ids)):
        for label, figures in (row.get("evals") or {}).items():
            for key, value in figures.items():
                if isinstance(value, (int, float)):
                    collected.setdefault(label, {}).setdefault(key, []).append(value)
    return {
        label: {key: spread(values, plus_minus) for key, values in figures.items()}
        for label, figures in sorted(collected.items())
    }


def confusion(store: RunStore, entry: Entry) -> tuple[list[list[int]], list[str], bool] | None:
    """(counts true x predicted, class names, partial) of the last epoch of the run, or summed
    over a group's finished runs; None when none recorded one."""
    ids = entry.run_ids if not entry.grouped else entry.finished
    total: list[int] | None = None
    names: list[str] = []
    partial = False
    for run_id in ids:
        epochs = [row for row in store.epochs(run_id) if row.get("confusion")]
        if not epochs:
            continue
        counts = list(epochs[-1]["confusion"])
        partial = partial or bool(epochs[-1].get("eval_images"))
        if total is None:
            total = counts
            names = list(store.run(run_id)["classes"] or [])
        elif len(counts) == len(total):
            total = [a + b for a, b in zip(total, counts)]
    if total is None:
        return None
    classes = round(len(total) ** 0.5)
    if len(names) != classes:
        names = [str(i) for i in range(classes)]
    return [total[row * classes : (row + 1) * classes] for row in range(classes)], names, partial
