"""How every figure looks: paper-ready by default (one column, 3.4 in wide; fonts embedded;
colour-blind-safe colours), and text set literally: a run named `$x$` or `_a` reads as typed,
never as mathtext or a hidden legend entry."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

COLUMN_WIDTH_IN = 3.4  # one column of a two-column paper (IEEE, NeurIPS, ICML: 3.25 to 3.5 in)
FORMATS = ("png", "svg", "pdf")
PNG_DPI = 300

# Okabe and Ito's palette (Color Universal Design, 2008), distinguishable with any common colour
# vision deficiency; its yellow, weak on white, last.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#000000", "#F0E442")
DASHES = ("-", "--", ":", "-.")  # after the eight colours, lines differ by dash too
HEAT_MAP = "viridis"  # perceptually uniform and colour-blind-safe
LABEL_WIDTH = 48  # a legend's label, at most (cut at its end): the legend stays one column wide
LINE_IN = 0.14  # a legend line's height at 7 pt, in inches

STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",  # matplotlib's own font: the same figure on every machine
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "legend.frameon": False,
    "axes.linewidth": 0.6,
    "axes.grid": True,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.35,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "text.parse_math": False,  # `$x$` in a run's name is text
    "text.usetex": False,
    "pdf.fonttype": 42,  # TrueType, embedded (as venues ask), not Type 3
    "ps.fonttype": 42,
    "svg.fonttype": "path",  # glyphs as paths: the SVG needs no font where it is opened
    "svg.hashsalt": "cifar-tui",  # the same figure gives the same SVG
    "savefig.dpi": PNG_DPI,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "figure.constrained_layout.use": True,
}


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def dash(index: int) -> str:
    return DASHES[index // len(PALETTE) % len(DASHES)]


@contextmanager
def styled() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width_in: float, height_in: float, rows: int = 1, columns: int = 1, **kwargs):
    """(figure, axes) of a figure that belongs to no window (no pyplot: nothing to show or close)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in))
    axes = figure.subplots(rows, columns, squeeze=False, **kwargs)
    return figure, axes


def log_scale(axis) -> None:
    """A log-scale x axis labelled in plain numbers (0.001, not matplotlib's 10^-3, which is
    mathtext: off here, so that names stay literal)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_xscale("log")
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.xaxis.set_minor_formatter(NullFormatter())


def legend(figure, handles: list, labels: list[str], title: str | None = None, most: int = 12) -> None:
    """The figure's legend below its axes, with the labels given (so a label that starts with
    `_` is shown, not hidden); past `most` entries, one line says how many more there are."""
    shown, more = list(zip(handles, labels))[:most], len(labels) - most
    if not shown:
        return
    if more > 0:
        from matplotlib.lines import Line2D

        shown.append((Line2D([], [], linestyle="none"), f"… {more} more"))
    labels = [label if len(label) <= LABEL_WIDTH else label[: LABEL_WIDTH - 1] + "…" for _, label in shown]
    columns = min(2 if max(map(len, labels)) <= LABEL_WIDTH // 2 + 4 else 1, len(shown))
    lines = -(-len(labels) // columns) + (title.count("\n") + 1 if title else 0)
    figure.set_figheight(figure.get_figheight() + LINE_IN * lines)  # the axes keep their height
    figure.legend(
        [h for h, _ in shown],
        labels,
        loc="outside lower center",
        ncols=columns,
        title=title,
        handlelength=1.8,
        columnspacing=1.0,
    )


def rendered(figure, fmt: str) -> bytes:
    """The figure as PNG, SVG or PDF bytes, styled as it was drawn."""
    if fmt not in FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    buffer = io.BytesIO()
    with styled():
        metadata = {"Date": None} if fmt == "svg" else {"CreationDate": None} if fmt == "pdf" else {}
        figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()
