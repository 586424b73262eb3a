"""A line chart of losses (or accuracies) drawn in braille, cheap to redraw however long the run.

Drawn with numpy onto a 2x4-dots-per-cell canvas and cached as Strips until the data or the
size changes. plotext (through textual-plotext) took ~30-45 ms of pure Python per redraw at
150x40, which on a 2-core machine came straight out of training throughput; this takes ~1 ms.
numpy, not torch: torch ops on the UI thread start a second OpenMP thread team that competes
with the training thread's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.strip import Strip
from textual.widget import Widget

MAX_POINTS = 1000
# Braille dot bits by (row, column) inside a cell: U+2800 + the sum of the set dots.
DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int32)


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str | tuple[int, int, int] = "cyan"
    marker: str = "braille"  # "braille": a line through the points; "dot": the points alone; "point": 2x2 dots each


def downsample(
    values: Sequence[float], max_points: int = MAX_POINTS, first_x: int = 0
) -> tuple[list[float], list[float]]:
    """Bucket means of consecutive values: (x of each bucket's centre, mean), at most max_points."""
    n = len(values)
    if n == 0:
        return [], []
    array = np.asarray(values, dtype=np.float64)
    size = -(-n // max_points)
    whole = n - n % size
    means = array[:whole].reshape(-1, size).mean(1)
    if whole < n:
        means = np.append(means, array[whole:].mean())
    xs = [first_x + i * size + (min(size, n - i * size) - 1) / 2 for i in range(len(means))]
    return xs, means.tolist()


def smooth(ys: Sequence[float], fraction: float = 0.05) -> list[float]:
    """A trailing moving average over about `fraction` of the points (at least 1)."""
    n = len(ys)
    if n == 0:
        return []
    window = max(1, int(n * fraction))
    sums = np.cumsum(np.asarray(ys, dtype=np.float64))
    counts = np.minimum(np.arange(1, n + 1), window)
    lagged = np.zeros(n)
    lagged[window:] = sums[: n - window]
    return ((sums - lagged) / counts).tolist()


def nice_ticks(low: float, high: float, count: int, min_step: float = 0.0) -> list[float]:
    """At most about `count` round values (steps of 1, 2 or 5 x 10^k, at least min_step) in [low, high]."""
    if count < 1 or not high > low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(min_step, next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9)))
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def tick_label(value: float, step: float) -> str:
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k" if step >= 1000 else f"{value / 1000:.1f}k"
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return f"{value:.{decimals}f}"


def line_pixels(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of straight segments through consecutive points."""
    if len(px) < 2:
        return px, py
    dx, dy = np.diff(px), np.diff(py)
    steps = np.maximum(np.abs(dx), np.abs(dy)).astype(np.int64) + 1
    segment = np.repeat(np.arange(len(dx)), steps)
    starts = np.cumsum(steps) - steps
    t = (np.arange(steps.sum()) - starts[segment]) / steps[segment]
    return (
        np.rint(px[segment] + t * dx[segment]).astype(np.int64),
        np.rint(py[segment] + t * dy[segment]).astype(np.int64),
    )


class LossChart(Widget):
    DEFAULT_CSS = """
    LossChart { width: 1fr; height: 1fr; min-height: 8; }
    """

    def __init__(self, title: str = "", xlabel: str = "step", min_span: float = 0.0, **kwargs):
        """min_span: the least y range shown (accuracy: a 1.6-point change must not fill the chart)."""
        super().__init__(**kwargs)
        self.title = title
        self.xlabel = xlabel
        self.min_span = min_span
        self._series: list[Series] = []
        self._strips: list[Strip] | None = None
        self._drawn_for = None  # the size the strips were drawn for

    def show(self, series: list[Series]) -> None:
        self._series = series
        self._strips = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None  # the theme or the CSS changed: colours and background

    def render_line(self, y: int) -> Strip:
        # Textual asks line by line; everything is drawn on the first ask after a change.
        if self._strips is None or self._drawn_for != self.size:
            self._drawn_for = self.size
            self._strips = self.draw(*self.size)
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width)

    def draw(self, width: int, height: int) -> list[Strip]:
        """The whole chart as one Strip per row: a title row with the legend, the plot with the
        y-axis labels on its left, an axis row and a row of x labels."""
        base = self.rich_style
        dim = base + Style(dim=True)
        series = [s for s in self._series if len(s.xs)]
        colors = [base + Style(color=Color.parse(s.color).rich_color) for s in series]
        rows = self._title_rows(series, colors, width)
        plot_height = height - len(rows) - 2

        def finish(rows: list[list[Segment]]) -> list[Strip]:
            return [Strip(row).adjust_cell_length(width, base) for row in rows[:height]]

        if plot_height < 1 or width < 12:
            return finish(rows)
        bounds = data_bounds(series, self.min_span)
        y_labels = y_tick_rows(bounds[2], bounds[3], plot_height)
        # The y labels' column also holds the x axis' name, on the row of the x labels.
        label_width = max(len(self.xlabel) - 1, *(len(label) for label in y_labels.values()))
        plot_width = width - label_width - 3  # and a blank column on the right
        if plot_width < 4:
            return finish(rows)
        codes, owner = braille_canvas(series, bounds, plot_width, plot_height)
        for row in range(plot_height):
            label = y_labels.get(row, "")
            rows.append(
                [Segment(f"{label:>{label_width}} {'┤' if label else '│'}", dim)]
                + colored_runs(codes[row], owner[row], colors, base)
            )
        axis, labels = x_axis(series, bounds[0], bounds[1], plot_width)
        rows.append([Segment(" " * label_width + " └" + axis, dim)])
        rows.append([Segment(f"{self.xlabel:>{label_width + 1}} " + labels, dim)])
        if not series:
            message = "no data yet"
            middle = height - 2 - plot_height + plot_height // 2  # below the title rows
            left = label_width + 2 + max(0, (plot_width - len(message)) // 2)
            rows[middle] = [
                Segment(f"{'':>{label_width}} │", dim),
                Segment(" " * (left - label_width - 2), base),
                Segment(message, dim),
            ]
        return finish(rows)

    def _title_rows(self, series: list[Series], colors: list[Style], width: int) -> list[list[Segment]]:
        """The title with the legend beside it, or the legend on its own row when it does not fit."""
        base = self.rich_style
        title = [Segment(f" {self.title}", base + Style(bold=True))]
        legend = []
        for s, style in zip(series, colors):
            if s.label:
                legend += [Segment("  ━ ", style), Segment(s.label, base)]
        if Segment.get_line_length(title + legend) <= width:
            return [title + legend]
        return [title, [Segment(" "), *legend]]  # cut at the edge if even that is too narrow


Bounds = tuple[float, float, float, float]  # x_low, x_high, y_low, y_high


def data_bounds(series: list[Series], min_span: float = 0.0) -> Bounds:
    """The plotted ranges: every point's x, the finite ys with a 5% margin (and at least min_span)."""
    if not series:
        return 0.0, 1.0, -0.05, 1.05
    xs = np.concatenate([np.asarray(s.xs, dtype=np.float64) for s in series])
    ys = np.concatenate([np.asarray(s.ys, dtype=np.float64) for s in series])
    finite = np.isfinite(ys)
    x_low, x_high = float(xs.min()), float(xs.max())
    y_low, y_high = (float(ys[finite].min()), float(ys[finite].max())) if finite.any() else (0.0, 1.0)
    if x_high <= x_low:
        x_low, x_high = x_low - 0.5, x_high + 0.5
    if y_high - y_low < min_span:
        middle = (y_high + y_low) / 2
        y_low, y_high = middle - min_span / 2, middle + min_span / 2
    pad = (y_high - y_low) * 0.05 or max(abs(y_high) * 0.05, 0.5)
    return x_low, x_high, y_low - pad, y_high + pad


def y_tick_rows(y_low: float, y_high: float, plot_height: int) -> dict[int, str]:
    """Row -> label of round y values, a label every 2 rows or more."""
    ticks = nice_ticks(y_low, y_high, min(10, max(2, plot_height // 2)))
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return {round((y_high - tick) / (y_high - y_low) * (plot_height - 1)): tick_label(tick, step) for tick in ticks}


def braille_canvas(series: list[Series], bounds: Bounds, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(braille code offset of each cell, index of the series that owns it or -1); the later
    series is drawn on top."""
    x_low, x_high, y_low, y_high = bounds
    dots_w, dots_h = width * 2, height * 4
    codes = np.zeros((height, width), dtype=np.int32)
    owner = np.full((height, width), -1, dtype=np.int32)
    for index, s in enumerate(series):
        sx, sy = np.asarray(s.xs, dtype=np.float64), np.asarray(s.ys, dtype=np.float64)
        keep = np.isfinite(sx) & np.isfinite(sy)
        px = np.rint((sx[keep] - x_low) / (x_high - x_low) * (dots_w - 1))
        py = np.rint((y_high - sy[keep]) / (y_high - y_low) * (dots_h - 1))
        if s.marker == "braille":
            px, py = line_pixels(px, py)
        px, py = px.astype(np.int64), py.astype(np.int64)
        canvas = np.zeros((dots_h, dots_w), dtype=bool)
        canvas[py, px] = True
        if s.marker == "point" or s.marker == "braille" and len(sx) <= width // 4:  # few points: mark each one
            for ox, oy in ((1, 0), (0, 1), (1, 1)):
                canvas[np.clip(py + oy, 0, dots_h - 1), np.clip(px + ox, 0, dots_w - 1)] = True
        cells = (canvas.reshape(height, 4, width, 2) * DOT_BITS[None, :, None, :]).sum(axis=(1, 3))
        codes |= cells
        owner[cells > 0] = index
    return codes, owner


def colored_runs(codes: np.ndarray, owner: np.ndarray, colors: list[Style], base: Style) -> list[Segment]:
    """One row of the canvas as Segments, one per run of cells drawn by the same series."""
    text = "".join(map(chr, 0x2800 + codes)).replace("\u2800", " ")
    segments, start = [], 0
    for end in range(1, len(codes) + 1):
        if end == len(codes) or owner[end] != owner[start]:
            who = owner[start]
            segments.append(Segment(text[start:end], colors[who] if who >= 0 else base))
            start = end
    return segments


def x_axis(series: list[Series], x_low: float, x_high: float, width: int) -> tuple[str, str]:
    """(the axis line with tick marks, the row of tick labels), labels never touching."""
    xs = np.concatenate([np.asarray(s.xs, dtype=np.float64) for s in series]) if series else np.array([0.0])
    whole = bool(np.all(xs == np.round(xs)))  # epochs: no tick between two of them
    ticks = nice_ticks(x_low, x_high, max(1, width // 10), min_step=1.0 if whole else 0.0)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    axis = ["─"] * width
    labels = [" "] * (width + 2)
    for tick in ticks:
        column = round((tick - x_low) / (x_high - x_low) * (width - 1))
        axis[column] = "┬"
        text = tick_label(tick, step)
        begin = min(max(0, column - len(text) // 2), width - len(text))
        if all(c == " " for c in labels[max(0, begin - 1) : begin + len(text) + 1]):
            labels[begin : begin + len(text)] = text
    return "".join(axis), "".join(labels)
