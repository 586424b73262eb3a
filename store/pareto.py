"""The Pareto front of a set of points: those no other point beats on one objective while being
at least as good on every other (accuracy against seconds, say). Equal points are all on the
front: neither beats the other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Direction = Literal["maximize", "minimize"]


def pareto_front(points: Sequence[Sequence[float]], directions: Sequence[Direction]) -> list[int]:
    """The indices of the points on the front, in the points' order. Each point has one value
    per direction; a point with a missing or NaN value is on no front."""
    signs = [1.0 if d == "maximize" else -1.0 if d == "minimize" else _bad(d) for d in directions]
    scored = [
        (i, tuple(s * v for s, v in zip(signs, point)))
        for i, point in enumerate(points)
        if len(point) == len(signs) and all(v is not None and v == v for v in point)
    ]
    # Sorted best first on the first objective, ties by the rest: a point can be beaten only by
    # one before it, so each is checked against the front found so far (its size, not n).
    scored.sort(key=lambda item: tuple(-v for v in item[1]))
    front: list[tuple[int, tuple[float, ...]]] = []
    for index, values in scored:
        if not any(_beats(other, values) for _, other in front):
            front.append((index, values))
    return sorted(index for index, _ in front)


def _beats(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """a is at least as good as b everywhere and better somewhere (larger is better here)."""
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def _bad(direction: str) -> float:
    raise ValueError(f"direction: {direction!r} is not maximize or minimize")


def front_of_runs(store, filter_text: str, columns: list[str]) -> tuple[list[int], int]:
    """(the ids on the Pareto front, the finished runs it was drawn from) of the runs a filter
    keeps, each column better its own way (store/columns.better); a run missing a value is on none."""
    from .columns import better, eval_columns

    directions = [better(column) for column in columns]
    unknown = [c for c, d in zip(columns, directions) if d is None]
    if unknown or len(columns) < 2:
        what = f"{unknown[0]!r} is no result column" if unknown else "give two result columns or more"
        raise ValueError(f"pareto: {what} (test_acc,seconds; test_acc,images_per_s; cifar10.1_acc,test_acc)")
    runs = [r for r in store.find(filter_text, sort="+id") if r["status"] == "finished"]
    points = [[r[c] if c in r else eval_columns(r.get("evals")).get(c) for c in columns] for r in runs]
    return [runs[i]["id"] for i in pareto_front(points, directions)], len(runs)
