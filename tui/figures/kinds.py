"""The figures `cifar-tui plot` draws and a report holds, one function a kind: each takes the
store, the entries (tui/figures/entries.py) and the options, and returns a matplotlib Figure
(styled: tui/figures/style.py). matplotlib is imported only here and in style.py."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...store.export import PARTIAL_NOTE
from ...store.pareto import pareto_front
from ...store.runs import RunStore
from .entries import Entry, band_words
from .series import Point, batch_loss, by_epoch, confusion, final, held_out
from .style import HEAT_MAP, PALETTE, legend, log_scale, new_figure, styled

PARTIAL_MARK = "*"
SMOOTHING = 0.9  # the smoothed batch loss: TensorBoard's exponential moving average, debiased
SEVERITIES = tuple(f"s{k}" for k in range(1, 6))
GAP_LABELS = 4  # bars labelled with their gap, at most (more would overlap)


class FigureRefused(ValueError):
    """The figure cannot be drawn from these runs (one line for the user, exit status 2)."""


@dataclass(frozen=True)
class Options:
    width_in: float
    plus_minus: str = "ci"


def _notes(entries: list[Entry], partial: bool, plus_minus: str) -> str | None:
    notes = [band_words(plus_minus)] if any(e.grouped for e in entries) else []
    notes += [PARTIAL_NOTE] if partial else []
    return "\n".join(notes) or None


def _marked(entry: Entry, partial: bool) -> str:
    return entry.label + (PARTIAL_MARK if partial else "")


def _line(ax, entry: Entry, xs: list[float], points: list[Point], **kwargs):
    (line,) = ax.plot(xs, [p.value for p in points], color=entry.colour, linestyle=entry.dash, **kwargs)
    banded = [(x, p) for x, p in zip(xs, points) if p.low is not None]
    if banded:
        ax.fill_between(
            [x for x, _ in banded],
            [p.low for _, p in banded],
            [p.high for _, p in banded],
            color=entry.colour,
            alpha=0.2,
            linewidth=0,
        )
    return line


# ------------------------------------------------------------------ the kinds


def curves(store: RunStore, entries: list[Entry], options: Options):
    """Test accuracy and test loss at each epoch: a line a run, a group's mean with its band."""
    with styled():
        figure, axes = new_figure(options.width_in, options.width_in * 1.05, 2, 1, sharex=True)
        handles, labels, any_partial = [], [], False
        for entry in entries:
            partial = False
            for ax, measure in zip(axes[:, 0], ("test_acc", "test_loss")):
                series = by_epoch(store, entry, measure, options.plus_minus)
                if not series:
                    continue
                line = _line(ax, entry, list(series), list(series.values()), marker="o" if len(series) < 16 else None)
                partial = partial or any(p.partial for p in series.values())
                if measure == "test_acc":
                    handles.append(line)
            if handles and len(labels) < len(handles):
                labels.append(_marked(entry, partial))
            any_partial = any_partial or partial
        if not handles:
            raise FigureRefused("curves: none of these runs has recorded an epoch yet")
        axes[0, 0].set_ylabel("Test accuracy (%)")
        axes[1, 0].set_ylabel("Test loss")
        axes[1, 0].set_xlabel("Epoch")
        axes[1, 0].xaxis.get_major_locator().set_params(integer=True)
        legend(figure, handles, labels, _notes(entries, any_partial, options.plus_minus))
    return figure


def smoothed(values: list[float], weight: float = SMOOTHING) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so that it starts at the
    first value rather than at zero."""
    out, average = [], 0.0
    for count, value in enumerate(values, start=1):
        average = average * weight + (1 - weight) * value
        out.append(average / (1 - weight**count))
    return out


def loss(store: RunStore, entries: list[Entry], options: Options):
    """The batch loss at each step, raw (faint) and smoothed: a run's, or a group's mean."""
    with styled():
        figure, axes = new_figure(options.width_in, options.width_in * 0.75)
        ax = axes[0, 0]
        handles, labels = [], []
        for entry in entries:
            curve = batch_loss(store, entry)
            if not curve:
                continue
            steps, values = [s for s, _ in curve], [v for _, v in curve]
            ax.plot(steps, values, color=entry.colour, linewidth=0.5, alpha=0.3, gid="raw")
            (line,) = ax.plot(steps, smoothed(values), color=entry.colour, linestyle=entry.dash, gid="smoothed")
            handles.append(line)
            labels.append(entry.label)
        if not handles:
            raise FigureRefused("loss: none of these runs has recorded a batch loss yet")
        ax.set_xlabel("Step (batch)")
        ax.set_ylabel("Training loss per batch")
        notes = [f"faint: raw; solid: smoothed (EMA {SMOOTHING})"]
        notes += ["a group: the mean over its finished runs"] if any(e.grouped for e in entries) else []
        legend(figure, handles, labels, "\n".join(notes))
    return figure


def pareto(store: RunStore, entries: list[Entry], options: Options):
    """Final test accuracy against training seconds, the front of the best trades marked."""
    plotted: list[tuple[Entry, Point, Point]] = []
    for entry in entries:
        acc, seconds = final(store, entry, "test_acc", options.plus_minus), final(store, entry, "seconds", "std")
        if acc is not None and seconds is not None and (not entry.grouped or entry.finished):
            plotted.append((entry, acc, seconds))
    if not plotted:
        raise FigureRefused("pareto: none of these runs has a test accuracy and a training time yet")
    on_front = set(pareto_front([(a.value, s.value) for _, a, s in plotted], ["maximize", "minimize"]))
    with styled():
        figure, axes = new_figure(options.width_in, options.width_in * 0.8)
        ax = axes[0, 0]
        handles, labels = [], []
        for index, (entry, acc, seconds) in enumerate(plotted):
            error = [[acc.value - acc.low], [acc.high - acc.value]] if acc.low is not None else None
            handle = ax.errorbar(
                [seconds.value], [acc.value], yerr=error, color=entry.colour, marker="o", markersize=4,
                linestyle="none", elinewidth=0.8, capsize=1.5, gid=f"entry-{entry.index}",
            )  # fmt: skip
            if index in on_front:
                ax.plot([seconds.value], [acc.value], marker="o", markersize=7, fillstyle="none", color="black", lw=0)
            handles.append(handle)
            labels.append(_marked(entry, acc.partial))
        front = sorted((plotted[i][2].value, plotted[i][1].value) for i in on_front)
        ax.plot([x for x, _ in front], [y for _, y in front], color="black", linewidth=0.7, linestyle="--", gid="front")
        seconds_seen = [s.value for _, _, s in plotted if s.value > 0]
        if seconds_seen and max(seconds_seen) / min(seconds_seen) > 20:
            log_scale(ax)
        ax.set_xlabel("Training time (s)")
        ax.set_ylabel("Test accuracy (%)")
        notes = [f"ringed, dashed: the Pareto front ({len(on_front)} of {len(plotted)})"]
        notes += [_notes(entries, any(a.partial for _, a, _ in plotted), options.plus_minus) or ""]
        legend(figure, handles, labels, "\n".join(n for n in notes if n))
    return figure


def confusion_matrix(store: RunStore, entries: list[Entry], options: Options):
    """The last epoch's confusion matrix as a heat map, each row in percent of its true class."""
    if len(entries) != 1:
        ids = ", ".join(str(e.run_ids[0]) for e in entries[:6]) + (", …" if len(entries) > 6 else "")
        raise FigureRefused(
            f"confusion: one run or group at a time; the filter keeps {len(entries)} ({ids}): narrow it (id=N)"
        )
    [entry] = entries
    found = confusion(store, entry)
    if found is None:
        raise FigureRefused(f"confusion: {entry.label!r} has no recorded confusion matrix yet")
    counts, names, partial = found
    classes = len(names)
    percent = [[100 * c / max(1, sum(row)) for c in row] for row in counts]
    with styled():
        size = options.width_in
        figure, axes = new_figure(size, size * 0.92)
        ax = axes[0, 0]
        image = ax.imshow(percent, cmap=HEAT_MAP, vmin=0, vmax=100, gid="heat-map")
        ax.grid(False)
        ax.set_xticks(range(classes), names, rotation=90 if classes > 4 else 0, fontsize=6 if classes > 10 else 7)
        ax.set_yticks(range(classes), names, fontsize=6 if classes > 10 else 7)
        ax.set_xlabel("Predicted class")
        ax.set_ylabel("True class")
        if classes <= 12:
            for row in range(classes):
                for column in range(classes):
                    value = percent[row][column]
                    ax.text(
                        column, row, f"{value:.0f}", ha="center", va="center", fontsize=5,
                        color="black" if value > 60 else "white",
                    )  # fmt: skip
        bar = figure.colorbar(image, ax=ax, shrink=0.8)
        bar.set_label("Share of the true class (%)")
        title = _marked(entry, partial) + (f"\n{PARTIAL_NOTE}" if partial else "")
        ax.set_title(title, fontsize=7)
    return figure


def held_out_sets(store: RunStore, entries: list[Entry], options: Options):
    """Test accuracy beside each held-out set's (CIFAR-10.1's gap), and a corrupted set's
    accuracy by severity (CIFAR-10-C), 0 being the clean test set."""
    found = {
        e: (final(store, e, "test_acc", options.plus_minus), held_out(store, e, options.plus_minus)) for e in entries
    }
    found = {e: pair for e, pair in found.items() if pair[1] and pair[0] is not None}
    if not found:
        raise FigureRefused("heldout: none of these runs was evaluated on a held-out set (--eval-on)")
    sets = sorted({label for _, sets in found.values() for label in sets})
    severities = sorted({label for _, sets in found.values() for label, f in sets.items() if "s1" in f})
    with styled():
        rows = 2 if severities else 1
        figure, axes = new_figure(options.width_in, options.width_in * (0.45 * rows + 0.25), rows, 1)
        bars = axes[0, 0]
        categories = ["test", *sets]
        width = 0.8 / len(found)
        handles, labels = [], []
        for slot, (entry, (test, figures)) in enumerate(found.items()):
            points = [test, *(figures.get(label, {}).get("acc") for label in sets)]
            xs = [i - 0.4 + width * (slot + 0.5) for i in range(len(categories))]
            kept = [(x, p) for x, p in zip(xs, points) if p is not None]
            handle = bars.bar(
                [x for x, _ in kept], [p.value for _, p in kept], width * 0.92, color=entry.colour,
                gid=f"entry-{entry.index}",
            )  # fmt: skip
            banded = [(x, p) for x, p in kept if p.low is not None]
            if banded:
                bars.errorbar(
                    [x for x, _ in banded], [p.value for _, p in banded],
                    yerr=[[p.value - p.low for _, p in banded], [p.high - p.value for _, p in banded]],
                    color="black", linestyle="none", elinewidth=0.7, capsize=1.2,
                )  # fmt: skip
            for x, label in zip(xs[1:] if len(found) <= GAP_LABELS else (), sets):
                gap = figures.get(label, {}).get("gap")
                if gap is not None:
                    top = figures[label]["acc"]
                    bars.text(x, (top.high or top.value) + 1, f"−{gap.value:.1f}" if gap.value >= 0 else f"+{-gap.value:.1f}",
                              ha="center", va="bottom", fontsize=5)  # fmt: skip
            handles.append(handle)
            labels.append(_marked(entry, test.partial))
        bars.set_xticks(range(len(categories)), categories)
        bars.set_ylabel("Accuracy (%)")
        bars.set_ylim(0, 100)
        bars.grid(axis="x", visible=False)
        if severities:
            ax = axes[1, 0]
            for entry, (test, figures) in found.items():
                for label in (label for label in severities if label in figures):
                    points = [test, *(figures[label].get(s) for s in SEVERITIES)]
                    xs = [k for k, p in enumerate(points) if p is not None]
                    marker = "os^dv"[severities.index(label) % 5]
                    _line(
                        ax, entry, xs, [p for p in points if p is not None], marker=marker, gid=f"{label}-{entry.index}"
                    )
            ax.set_xticks(range(6), ["clean", "1", "2", "3", "4", "5"])
            ax.set_xlabel(
                "Corruption severity"
                + (f" ({', '.join(severities)})" if len(severities) > 1 else f" ({severities[0]})")
            )
            ax.set_ylabel("Accuracy (%)")
        partial = any(test.partial for test, _ in found.values())
        notes = ["above a held-out bar: its gap to the test accuracy (points)"] if len(found) <= GAP_LABELS else []
        notes += [_notes(list(found), partial, options.plus_minus) or ""]
        legend(figure, handles, labels, "\n".join(n for n in notes if n))
    return figure


def search(store: RunStore, name: str, options: Options):
    """A search's trials: each trial's objective and the best so far, then the objective against
    each searched field (finished trials filled, pruned ones hollow at their last value)."""
    import json

    from ...store.columns import objectives
    from ...store.export import header
    from ...store.study import best_so_far, outcomes

    row = store.db.execute("SELECT objective, space FROM studies WHERE name = ?", [name]).fetchone()
    if row is None:
        raise FigureRefused(f"search: no search named {name!r}; `cifar-tui queue` lists them")
    objective, space = row[0], json.loads(row[1])
    if objective not in objectives():
        raise FigureRefused(
            f"search: {name!r} has several objectives ({objective}); `cifar-tui plot pareto sweep={name}` draws its front"
        )
    trials = outcomes(store.db, name)
    if not trials:
        raise FigureRefused(f"search: {name!r} has no ended trial yet")
    direction = objectives()[objective]
    fields = list(space)
    with styled():
        figure, axes = new_figure(
            options.width_in, options.width_in * (0.55 * (1 + len(fields)) + 0.2), 1 + len(fields), 1
        )
        ylabel = header(objective)
        finished = [t for t in trials if t["status"] == "finished"]
        pruned = [t for t in trials if t["status"] == "pruned"]
        kinds = ((finished, "full", "finished"), (pruned, "none", "pruned (its last value)"))
        ax = axes[0, 0]
        handles, labels = [], []
        for group, fill, words in kinds:
            if group:
                (h,) = ax.plot([t["number"] for t in group], [t["value"] for t in group], "o", fillstyle=fill,
                               color=PALETTE[0] if fill == "full" else PALETTE[1], gid=f"trials-{fill}")  # fmt: skip
                handles.append(h)
                labels.append(words)
        curve = best_so_far(store.db, name)
        if curve:
            (h,) = ax.step([n for n, _ in curve], [b for _, b in curve], where="post", color="black", gid="best")
            handles.append(h)
            labels.append(f"best so far ({'highest' if direction == 'maximize' else 'lowest'})")
        ax.set_xlabel("Trial")
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        for ax, field in zip(axes[1:, 0], fields):
            _against_field(ax, field, space[field], kinds)
            ax.set_ylabel(ylabel)
        legend(figure, handles, labels, f"search {name}: {len(trials)} ended trials")
    return figure


def _against_field(ax, field: str, axis: dict[str, Any], kinds) -> None:
    values = [t["point"].get(field) for group, _, _ in kinds for t in group]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None)
    choices = axis.get("choices")
    if numeric:
        spanned = [v for v in (choices or values) if v is not None and v > 0]
        if "low" in axis or (spanned and len(spanned) == len(choices or values) and max(spanned) / min(spanned) >= 10):
            log_scale(ax)
        if choices:
            ax.set_xticks(choices, [str(c) for c in choices])
            ax.minorticks_off()
        position = float
    else:
        order = [str(c) for c in choices] if choices else sorted({str(v) for v in values})
        ax.set_xticks(range(len(order)), order)
        position = lambda v: order.index(str(v))  # noqa: E731
    for group, fill, _ in kinds:
        kept = [t for t in group if t["point"].get(field) is not None]
        ax.plot([position(t["point"][field]) for t in kept], [t["value"] for t in kept], "o", fillstyle=fill,
                color=PALETTE[0] if fill == "full" else PALETTE[1], gid=f"{field}-{fill}")  # fmt: skip
    ax.set_xlabel(field + (" (log scale)" if numeric and ax.get_xscale() == "log" else ""))


def parallel(store: RunStore, entries: list[Entry], options: Options, objective: str = "test_acc"):
    """Parallel coordinates: an axis per varying field and one for the objective, each run a
    line coloured by its objective; log fields on log axes, categorical ones labelled; runs
    without a final value (failed, cancelled, running) grey, pruned trials faint."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from ...store.columns import better
    from ...store.export import header
    from ...store.importance import NOT_FIELDS, field_distributions, filled_configs, param, scale, value_of

    ids = [i for e in entries for i in e.run_ids]
    runs = store.runs(ids)
    fields = [f for f in store.varying_fields_of(ids) if f not in NOT_FIELDS] if len(ids) > 1 else []
    configs = filled_configs(store, ids)
    distributions = field_distributions(store, runs, fields, configs)
    if not distributions:
        raise FigureRefused("parallel: no config field varies among these runs")
    values = {r["id"]: value_of(r, objective) for r in runs if r["status"] in ("finished", "pruned")}
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        raise FigureRefused(f"parallel: none of these runs has a {objective} yet")
    axes_names = [*distributions, objective]
    low, high = min(values.values()), max(values.values())
    with styled():
        figure, axes = new_figure(max(options.width_in, 1.1 * len(axes_names)), options.width_in * 0.75)
        ax = axes[0, 0]
        colours = colormaps[HEAT_MAP]
        scale_of = Normalize(low, high if high > low else low + 1)
        positions = {f: _axis_positions(d, [configs[i][f] for i in ids]) for f, d in distributions.items()}
        for run in runs:
            ys = [positions[f](param(configs[run["id"]][f], d)) for f, d in distributions.items()]
            value = values.get(run["id"])
            if value is None:
                ax.plot(range(len(ys)), ys, color="0.6", linewidth=0.6, alpha=0.5, gid=f"run-{run['id']}")
                continue
            ys.append(scale_of(value))
            faint = run["status"] == "pruned"
            ax.plot(range(len(ys)), ys, color=colours(scale_of(value)), linewidth=0.6 if faint else 1.1,
                    alpha=0.35 if faint else 0.9, gid=f"run-{run['id']}")  # fmt: skip
        for x, name in enumerate(axes_names):
            ax.axvline(x, color="black", linewidth=0.6)
            ticks = positions[name].ticks if name in positions else [(0.0, f"{low:.4g}"), (1.0, f"{high:.4g}")]
            for y, text in ticks:
                ax.text(x + 0.03, y, text, fontsize=5.5, va="center", ha="left")
        ax.set_xticks(range(len(axes_names)), [f"{n} ({scale(distributions[n])})" if n in distributions else header(n) for n in axes_names],
                      rotation=20, ha="right")  # fmt: skip
        ax.set_yticks([])
        ax.grid(False)
        ax.set_ylim(-0.05, 1.05)
        ax.spines[["left", "bottom"]].set_visible(False)
        bar = figure.colorbar(ScalarMappable(scale_of, colours), ax=ax, shrink=0.85, pad=0.02)
        bar.set_label(f"{header(objective)} ({'higher' if better(objective) == 'maximize' else 'lower'} is better)")
    return figure


class _Positions:
    """Where a field's values sit on its axis (0 to 1), and the axis's labels."""

    def __init__(self, place: Callable[[Any], float], ticks: list[tuple[float, str]]):
        self.place, self.ticks = place, ticks

    def __call__(self, value: Any) -> float:
        return self.place(value)


def _axis_positions(distribution, taken: list[Any]) -> _Positions:
    import json as _json

    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        choices = list(distribution.choices)
        step = 1 / max(1, len(choices) - 1)
        shown = [_json.loads(c) if isinstance(c, str) and c[:1] in '"[{tfn0123456789-' else c for c in choices]
        return _Positions(lambda v: choices.index(v) * step if v in choices else 0.5,
                          [(i * step, str(c)) for i, c in enumerate(shown)])  # fmt: skip
    low, high, log = distribution.low, distribution.high, distribution.log
    if log:
        low_l, high_l = math.log10(low), math.log10(high)
        place = lambda v: (math.log10(v) - low_l) / ((high_l - low_l) or 1)  # noqa: E731
    else:
        place = lambda v: (v - low) / ((high - low) or 1)  # noqa: E731
    inner = sorted({v for v in taken if low < v < high})
    ticks = [(0.0, f"{low:g}"), (1.0, f"{high:g}")] + ([(place(v), f"{v:g}") for v in inner] if len(inner) <= 3 else [])
    return _Positions(place, ticks)


KINDS: dict[str, tuple[Callable, str]] = {
    "curves": (curves, "test accuracy and loss at each epoch"),
    "loss": (loss, "the batch loss at each step, raw and smoothed"),
    "pareto": (pareto, "test accuracy against training time, the Pareto front marked"),
    "confusion": (confusion_matrix, "the last epoch's confusion matrix (one run or group)"),
    "heldout": (held_out_sets, "held-out sets' accuracy (CIFAR-10.1's gap, CIFAR-10-C by severity)"),
    "search": (search, "a search's trials: best so far, and the objective against each field (FILTER: its name)"),
    "parallel": (parallel, "parallel coordinates: an axis a varying field and the objective, a line a run"),
}
