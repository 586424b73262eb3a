"""A line chart of losses (or accuracies) that stays cheap to redraw however long the run.

plotext's redraw cost grows with the points drawn, so every series is averaged down to at most
MAX_POINTS buckets in one numpy pass before it reaches the chart. numpy, not torch: torch ops on
the UI thread start a second OpenMP thread team that competes with the training thread's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from textual_plotext import PlotextPlot

MAX_POINTS = 1000


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str | tuple[int, int, int] = "cyan"
    marker: str = "braille"


def downsample(values: Sequence[float], max_points: int = MAX_POINTS, first_x: int = 0) -> tuple[list[float], list[float]]:
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


class LossChart(PlotextPlot):
    DEFAULT_CSS = """
    LossChart { height: 1fr; min-height: 8; }
    """

    def __init__(self, title: str = "", xlabel: str = "step", ylabel: str = "loss", **kwargs):
        super().__init__(**kwargs)
        self.title = title
        self.xlabel = xlabel
        self.ylabel = ylabel
        self._series: list[Series] = []

    def on_mount(self) -> None:
        self.show([])

    def show(self, series: list[Series]) -> None:
        self._series = series
        plt = self.plt
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel(self.xlabel)
        plt.ylabel(self.ylabel)
        drawn = False
        for s in series:
            if len(s.xs):
                plt.plot(list(s.xs), list(s.ys), label=s.label or None, color=s.color, marker=s.marker)
                drawn = True
        if not drawn:
            plt.xlim(0, 1)
            plt.ylim(0, 1)
        self.refresh()
