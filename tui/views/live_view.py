"""The Live view: the running run's loss curve, progress, epochs and per-class accuracy.

Events only update LiveState; this view redraws from it on a timer, so the redraw rate is
bounded (TEXT_HZ, CHART_HZ) however fast events arrive.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from ...engine.cifar_classes import class_names
from ...engine.events import EpochEnd
from ...engine.schedule import rate_at
from ...store import columns
from ..live_state import LiveRun, LiveState
from ..safe_text import markup_safe
from ..widgets.epoch_panels import class_accuracy, confusion_matrix, image_strip, sparkline
from ..widgets.loss_chart import LossChart, Series, downsample, smooth

# Every redraw is CPU time taken from training on a machine with few cores (and GIL time from
# the app's engine thread): the chart redraws at 1 Hz and the text at 4 Hz (measured with
# `cifar-tui bench app`).
TEXT_HZ = 4
CHART_HZ = 1


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


COMPACT_BELOW = (140, 40)  # narrower or lower than this: the epoch panels are one key (v) away


class LiveView(Vertical):
    BINDINGS = [
        ("c", "app.cancel_current", "Cancel run"),
        ("p", "app.toggle_run_pause", "Pause run"),
        ("v", "toggle_panels", "Charts/panels"),
        ("w", "app.watch_run", "Watch run…"),
    ]
    can_focus = True

    def __init__(self, state: LiveState, **kwargs):
        super().__init__(**kwargs)
        self.state = state
        self._drawn_text = -1
        self._drawn_chart = -1
        self._drawn_chart_width = -1
        self._drawn_epochs = 0
        self._drawn_panels: tuple[int | None, int, int] = (None, -1, 0)  # run, epochs, width
        self._drawn_run: int | None = None
        self._texts: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static("No run is training. Add one in New (1) or from a shell: cifar-tui queue add …", id="live-title")
        # Plain text bars, one Static: ProgressBar widgets cost several renders per update.
        with Horizontal(id="live-progress"):
            yield Static("", id="live-bars")
            yield Static("", id="live-speed")
        with Horizontal(id="live-main"):
            yield LossChart(title="batch loss", id="live-chart")
            with Vertical(id="live-epoch-charts"):
                yield LossChart(title="loss per epoch", xlabel="epoch", id="live-epoch-loss")
                yield LossChart(title="test accuracy %", xlabel="epoch", min_span=10, id="live-acc")
        with Horizontal(id="live-panels"):
            yield Static("", id="confusion")
            yield Static("", id="class-acc")
            yield Static("", id="wrong-images")
        yield DataTable(id="epoch-table", zebra_stripes=True, cursor_type="none")

    def on_mount(self) -> None:
        self.set_columns(None)
        self.set_interval(1 / TEXT_HZ, self.redraw_text)
        self.set_interval(1 / CHART_HZ, self.redraw_chart)

    def set_columns(self, config) -> None:
        """The epoch table's columns for a run (None: before any): fixed widths, so that columns
        do not grow as rows arrive (and snapshots do not race them)."""
        table = self.query_one("#epoch-table", DataTable)
        table.clear(columns=True)
        for label, width in epoch_columns(config):
            table.add_column(label, width=width)

    def on_resize(self) -> None:
        width, height = self.app.size
        self.set_class(width < COMPACT_BELOW[0] or height < COMPACT_BELOW[1], "compact")

    def action_toggle_panels(self) -> None:
        """In a small terminal: the epoch panels (confusion, classes, images) in the charts' place."""
        self.toggle_class("panels")
        self._drawn_panels = (None, -1, 0)
        self._drawn_chart = -1

    def redraw_text(self) -> None:
        run = self.state.run
        if run is None or not self.is_on_screen or self.state.version == self._drawn_text and run.status != "running":
            return
        self._drawn_text = self.state.version
        if run.run_id != self._drawn_run:
            self._drawn_run = run.run_id
            self._drawn_epochs = 0
            self.set_columns(run.config)
        self._set("#live-title", title(run))
        self._set(
            "#live-bars",
            f"epoch {bar(run.epoch_step, run.steps_per_epoch)}   run {bar(run.step, run.total_steps)}",
            fixed_size=True,
        )
        self._set("#live-speed", speed_line(run, self.query_one("#live-speed").size.width), fixed_size=True)
        table = self.query_one("#epoch-table", DataTable)
        for end in run.epochs[self._drawn_epochs :]:
            table.add_row(*epoch_cells(end, run.config))
            self._drawn_epochs += 1
        self.redraw_panels(run)

    def redraw_panels(self, run: LiveRun) -> None:
        """The per-epoch panels change once an epoch: drawn then (or when the width changes)."""
        panels = self.query_one("#live-panels")
        key = (run.run_id, len(run.epochs), panels.size.width)
        if key == self._drawn_panels or not panels.display or not self.query_one("#wrong-images").size.width:
            return  # unchanged, hidden, or not laid out yet (the image strip fits its width)
        self._drawn_panels = key
        last = run.epochs[-1] if run.epochs else None
        previous = run.epochs[-2].class_acc if len(run.epochs) > 1 else None
        waiting = Text("after the first epoch", style="dim")
        names = class_names(run.classes, len(last.class_acc)) if last else ()
        confusion = self.query_one("#confusion", Static)
        confusion.update(confusion_matrix(last.confusion, last.epoch, names) if last and last.confusion else waiting)
        self.query_one("#class-acc", Static).update(
            class_accuracy(last.class_acc, previous, last.epoch, names) if last else waiting
        )
        images = self.query_one("#wrong-images", Static)
        images.update(image_strip(last.wrong_images, last.wrong_labels, images.size.width, names) if last else waiting)

    def _set(self, selector: str, text: str, fixed_size: bool = False) -> None:
        """Update a Static only when its text changes. A layout pass of the whole screen costs
        more than the render, so it runs only when the text may change the Static's size."""
        old = self._texts.get(selector)
        if old != text:
            self._texts[selector] = text
            layout = not fixed_size and (old is None or len(old) != len(text))
            self.query_one(selector, Static).update(text, layout=layout)

    def redraw_chart(self) -> None:
        """At each new event, and when the chart's width changed since it was drawn (its points
        are sampled for its width: a resize, or a layout that came late)."""
        run = self.state.run
        if run is None or not self.is_on_screen:
            return
        chart = self.query_one("#live-chart", LossChart)
        if (self.state.version, chart.size.width) == (self._drawn_chart, self._drawn_chart_width):
            return
        self._drawn_chart, self._drawn_chart_width = self.state.version, chart.size.width
        # Braille draws 2 points per cell: more points than that cost time and show nothing.
        xs, ys = downsample(run.losses, max_points=max(50, 2 * chart.size.width), first_x=run.first_step)
        chart.show(
            [
                Series("each batch", xs, ys, color="gray", marker="dot"),
                Series("smoothed", xs, smooth(ys), color="cyan"),
            ]
        )
        if self.query_one("#live-epoch-charts").display:
            epochs = [e.epoch for e in run.epochs]
            self.query_one("#live-epoch-loss", LossChart).show(
                [
                    Series("train", epochs, [e.train_loss for e in run.epochs], color="cyan"),
                    Series("test", epochs, [e.test_loss for e in run.epochs], color="magenta"),
                ]
            )
            self.query_one("#live-acc", LossChart).show(
                [Series("test", epochs, [e.test_acc for e in run.epochs], color="green")]
            )


def epoch_columns(config) -> list[tuple[str, int]]:
    """The epoch table's (header, width): the epoch, then each measure the run's config shows
    (store/columns.py); None: a run not yet known."""
    return [("epoch", 5), *((m.header, m.width) for m in columns.epoch_measures(config or {}))]


def epoch_cells(end: EpochEnd, config) -> list[str]:
    return [str(end.epoch), *(m.text(end) for m in columns.epoch_measures(config))]


def speed_line(run: LiveRun, width: int = 200) -> str:
    """Steps, time left, speed (with its per-epoch sparkline), the learning rate now (with the
    schedule's shape over the run): the sparklines, then the rate, give way when it is narrow."""
    config = run.config
    speed = f"{run.images_per_s or 0:,.0f} img/s"
    trend = sparkline([e.images_per_s for e in run.epochs]) if len(run.epochs) > 1 else ""
    lr = shape = ""
    if run.total_steps:
        per_epoch, total = run.steps_per_epoch, run.total_steps
        now = rate_at(config, min(run.step, total - 1), total, per_epoch)
        lr = f"lr {now:.3g}"
        if config.lr_schedule != "constant" or config.warmup_epochs:
            points = [rate_at(config, i * total // 16, total, per_epoch) for i in range(16)]
            shape = sparkline(points, 16)
    core = f"{run.step:,}/{run.total_steps:,} · {eta(run)} · {speed}"
    for parts in ((trend, lr, shape), ("", lr, ""), ("", "", "")):
        extra = (f" {parts[0]}" if parts[0] else "") + (f" · {parts[1]}" if parts[1] else "")
        extra += f" {parts[2]}" if parts[2] else ""
        if len(Text.from_markup(core).plain) + len(extra) <= width:
            break
    text = core
    if parts[0]:
        text += f" [dim]{parts[0]}[/]"
    if parts[1]:
        text += f" · {parts[1]}"
    if parts[2]:
        text += f" [dim]{parts[2]}[/]"
    return text


def eta(run: LiveRun) -> str:
    if run.status != "running":
        return "ETA –"
    return "[yellow]paused[/]" if run.paused else f"ETA {duration(run.eta_s)}"


def bar(done: int, total: int, width: int = 16) -> str:
    fraction = min(1.0, done / total) if total else 0.0
    filled = round(fraction * width)
    return f"[$accent]{'━' * filled}[/][dim]{'━' * (width - filled)}[/] {fraction:4.0%}"


def title(run: LiveRun) -> str:
    colour = {
        "running": "green",
        "finished": "cyan",
        "failed": "red",
        "cancelled": "yellow",
        "interrupted": "red",
        "pruned": "magenta",
    }.get(run.status, "white")
    status = "paused" if run.paused and run.status == "running" else run.status
    colour = "yellow" if status == "paused" else colour
    name = f" “{markup_safe(run.config.name)}”" if run.config.name else ""
    device = f" ({markup_safe(run.device_name)})" if run.device_name else ""
    params = f"{run.params:,} params · " if run.params else ""  # none yet: it failed before training
    text = (
        f"[b]Run {run.run_id}{name}[/b] · {markup_safe(run.config.model_label)} on {markup_safe(run.config.dataset)} · "
        f"epoch {run.epoch}/{run.config.epochs}{' (testing)' if run.evaluating else ''} · "
        f"{markup_safe(run.device)}{device}{gpu_memory(run)} · {params}[{colour}]{status}[/]"
    )
    if status == "paused":
        text += " [dim](p goes on)[/]"
    if run.epochs and run.epochs[-1].eval_images:  # what the epoch table's * means
        text += f" · [dim]* on {run.epochs[-1].eval_images:,} test images[/]"
    if run.held_out:
        figures = " · ".join(
            f"{markup_safe(label)} {s['acc']:.2f}% (gap {s['gap']:+.2f})" for label, s in sorted(run.held_out.items())
        )
        text += f"\n[dim]held out:[/] {figures}"
    if run.error:
        text += f"\n[red]{markup_safe(run.error)}[/]"
    return text


def gpu_memory(run: LiveRun) -> str:
    """GPU memory in use now and the last epoch's peak, as the worker recorded them: the UI never
    asks the GPU itself (it may be another process's, or another machine's)."""
    if not run.memory_total:
        return ""
    peak = max((end.memory_peak for end in run.epochs[-1:]), default=0)
    peak_text = f", peak {peak / 2**30:.1f}" if peak else ""
    return f" · {run.memory_used / 2**30:.1f}{peak_text} of {run.memory_total / 2**30:.0f} GiB"
