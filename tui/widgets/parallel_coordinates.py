"""Parallel coordinates in the terminal, in braille (each character 2 x 4 dots): a vertical axis
per field and one for the objective, each run a line through its values, coloured by its
objective on a five-step viridis scale from worse to better (its legend below); pruned and failed runs dim. Axes
read their values as the importance does (store/importance.py): log fields on a log scale,
categorical ones spread evenly and labelled. Every label is the user's text, set literally."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from ..safe_text import middle_cut, printable

SCALE = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")  # viridis at 0, 1/4, 1/2, 3/4, 1
DIM = "grey42"
LABEL = 12  # an axis label's width, at most


@dataclass(frozen=True)
class Axis:
    name: str
    place: Any  # value -> 0..1 (bottom to top)
    low: str  # its labels at the bottom and the top
    high: str


@dataclass(frozen=True)
class Line:
    values: tuple[float | None, ...]  # each axis's position, 0..1 (None: the run has no value there)
    shade: float | None  # its objective on the colour scale, 0..1; None: dimmed
    dim: bool = False


def axes_of(distributions: dict[str, Any], objective: str, low: float, high: float) -> list[Axis]:
    """An axis per field (its Optuna distribution) and the objective's, low to high."""
    from optuna.distributions import CategoricalDistribution

    axes = []
    for name, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            choices = list(d.choices)
            step = 1 / max(1, len(choices) - 1)
            axes.append(Axis(name, lambda v, c=choices, s=step: c.index(v) * s if v in c else None,
                             str(choices[0]), str(choices[-1])))  # fmt: skip
        elif d.log:
            lo, hi = math.log10(d.low), math.log10(d.high)
            axes.append(Axis(f"{name} (log)", lambda v, lo=lo, hi=hi: (math.log10(v) - lo) / ((hi - lo) or 1),
                             f"{d.low:g}", f"{d.high:g}"))  # fmt: skip
        else:
            axes.append(Axis(name, lambda v, d=d: (v - d.low) / ((d.high - d.low) or 1), f"{d.low:g}", f"{d.high:g}"))
    axes.append(Axis(objective, lambda v: (v - low) / ((high - low) or 1), f"{low:.4g}", f"{high:.4g}"))
    return axes


def draw(axes: list[Axis], lines: list[Line], width: int, height: int, objective: str = "") -> Text:
    """The chart in width x height characters (labels included: two rows above and below)."""
    rows = max(2, height - 4)
    dots_w, dots_h = width * 2, rows * 4
    span = max(1, len(axes) - 1)
    xs = (
        [round(i * (dots_w - 1 - 2 * LABEL // 2) / span) + LABEL // 2 for i in range(len(axes))]
        if len(axes) > 1
        else [dots_w // 2]
    )
    cells: dict[tuple[int, int], int] = {}
    colour: dict[tuple[int, int], str] = {}
    ordered = sorted(lines, key=lambda line: (not line.dim, line.shade if line.shade is not None else -1))
    for line in ordered:  # the dim first, the best last: on top
        style = DIM if line.dim or line.shade is None else SCALE[min(len(SCALE) - 1, int(line.shade * len(SCALE)))]
        points = [(x, v) for x, v in zip(xs, line.values) if v is not None]
        for (x0, v0), (x1, v1) in zip(points, points[1:]):
            y0, y1 = round((1 - v0) * (dots_h - 1)), round((1 - v1) * (dots_h - 1))
            for x, y in _segment(x0, y0, x1, y1):
                cell = (x // 2, y // 4)
                cells[cell] = cells.get(cell, 0) | _DOT[(x % 2, y % 4)]
                colour[cell] = style
    axis_columns = {x // 2 for x in xs}
    text = Text()
    text.append(_labels([a.high for a in axes], xs, width) + "\n", style="dim")
    for row in range(rows):
        for column in range(width):
            bits = cells.get((column, row), 0)
            if bits:
                text.append(chr(0x2800 + bits), style=colour[(column, row)])
            elif column in axis_columns:
                text.append("│", style="grey50")
            else:
                text.append(" ")
        text.append("\n")
    text.append(_labels([a.low for a in axes], xs, width) + "\n", style="dim")
    text.append(_labels([a.name for a in axes], xs, width) + "\n", style="bold")
    legend = Text(f"{printable(objective)}: worse ")
    for shade in SCALE:
        legend.append("██", style=shade)
    legend.append(" better · ")
    legend.append("dim", style=DIM)
    legend.append(": pruned, failed or unfinished")
    text.append(legend)
    return text


# A braille character's dot bits, by (x, y) within its 2 x 4 cell.
_DOT = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (1, 0): 0x08, (1, 1): 0x10, (1, 2): 0x20, (0, 3): 0x40, (1, 3): 0x80}


def _segment(x0: int, y0: int, x1: int, y1: int):
    """The dots of a straight line (Bresenham's)."""
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    error = dx + dy
    while True:
        yield x0, y0
        if x0 == x1 and y0 == y1:
            return
        twice = 2 * error
        if twice >= dy:
            error += dy
            x0 += sx
        if twice <= dx:
            error += dx
            y0 += sy


def _labels(words: list[str], xs: list[int], width: int) -> str:
    """Words centred under each axis, each cut to LABEL characters, never overlapping."""
    line = [" "] * width
    taken = -1
    for word, x in zip(words, xs):
        word = middle_cut(printable(word), LABEL)
        start = max(taken + 1, min(width - len(word), x // 2 - len(word) // 2))
        for i, ch in enumerate(word[: max(0, width - start)]):
            line[start + i] = ch
        taken = start + len(word)
    return "".join(line)


def from_runs(store, run_ids: list[int], objective: str, hidden: set[str] = frozenset()):
    """(axes, lines) of these runs for the objective, the hidden fields left out, each line's
    shade its objective from worse (0) to better (1); None when no field varies among them or
    none has a value of the objective."""
    from ...store.columns import better
    from ...store.importance import NOT_FIELDS, field_distributions, filled_configs, param, value_of

    runs = store.runs(run_ids)
    fields = [f for f in store.varying_fields_of(run_ids) if f not in NOT_FIELDS and f not in hidden]
    configs = filled_configs(store, run_ids)
    distributions = field_distributions(store, runs, fields, configs) if fields else {}
    values = {r["id"]: value_of(r, objective) for r in runs}
    known = [v for r in runs if r["status"] in ("finished", "pruned") and (v := values[r["id"]]) is not None]
    if not distributions or not known:
        return None
    low, high = min(known), max(known)
    axes = axes_of(distributions, objective, low, high)
    lines = []
    for run in runs:
        places = [axis.place(param(configs[run["id"]][f], d)) for axis, (f, d) in zip(axes, distributions.items())]
        value = values[run["id"]]
        ended = run["status"] == "finished" and value is not None
        place = axes[-1].place(value) if value is not None and run["status"] in ("finished", "pruned") else None
        shade = None if place is None else place if better(objective) == "maximize" else 1 - place
        lines.append(Line((*places, place), shade, dim=not ended))
    return axes, lines
