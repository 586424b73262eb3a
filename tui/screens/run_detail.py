"""One run: its config, its epochs, its loss and accuracy curves."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from ...engine.cifar_classes import class_names
from ...engine.user_model import source_hash
from ...store.columns import HEADLINE, epoch_measures
from ...store.export import format_value
from ..safe_text import markup_safe, plain, printable
from ..terminal_tables import environment_rows
from ..widgets.epoch_panels import class_accuracy, confusion_matrix, image_strip
from ..widgets.loss_chart import LossChart, Series, smooth


def environment_line(environment: dict) -> Text:
    """What a run ran on, in one line (two where narrow): "ran on · torch 2.14.1 · GPU NVIDIA H200 · …"."""
    line = Text("ran on", style="bold dim")
    if not environment:
        return line + Text(
            ": not recorded (a run recorded before environments were, or one not started yet)", style="dim"
        )
    for row in environment_rows(environment):
        line.append(" · ", style="dim")
        line.append(f"{row['field']} ", style="dim")
        line.append(printable(row["value"]))
    return line


class RunDetailScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("l", "clone", "Clone into New"),
        Binding("s", "source", "Model source"),
    ]

    def __init__(self, run_id: int):
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="panel"):
            yield Static("", id="detail-title")
            yield Static("", id="detail-environment")
            yield Static("", id="detail-error-detail")
            with Horizontal(id="detail-top"):
                yield DataTable(id="detail-config", cursor_type="none", show_header=False)
                yield LossChart(title="batch loss", id="detail-loss")
                yield LossChart(title="test accuracy %", xlabel="epoch", min_span=10, id="detail-acc")
            with Horizontal(id="detail-panels"):
                yield Static("", id="detail-confusion")
                yield Static("", id="detail-classes")
                yield Static("", id="detail-wrong")
            yield DataTable(id="detail-epochs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        store = self.app.store
        run = store.run(self.run_id)
        if run is None:
            self.app.notify(f"run {self.run_id} no longer exists", severity="error")
            self.dismiss()
            return
        error = f"\n[red]{markup_safe(run['error'])}[/]" if run["error"] else ""
        tags = run["tags"]
        labels = f" · sweep {markup_safe(run['sweep'])}" if run["sweep"] else ""
        labels += f" · tags: {markup_safe(', '.join(tags))}" if tags else ""
        note = f"\n[i]{markup_safe(run['note'])}[/]" if run["note"] else ""
        self.query_one("#detail-title", Static).update(
            f"[b]Run {run['id']}[/b] {markup_safe(run['name'])} · {markup_safe(run['model'])} on {run['dataset']} · {run['status']} · "
            f"{run['epochs_done']}/{run['epochs']} epochs · best {format_value(HEADLINE, run[HEADLINE]) or '–'}% · "
            f"{markup_safe(run['device_name'])}{labels}{note}{error}"
        )
        environment = self.query_one("#detail-environment", Static)
        environment.update(environment_line(run["environment"]))
        detail = self.query_one("#detail-error-detail", Static)
        detail.update(Text(printable_lines(run["error_detail"] or ""), style="red"))
        detail.display = bool(run["error_detail"])
        config = self.query_one("#detail-config", DataTable)
        config.add_columns("field", "value")
        for key, value in run["config"].items():
            if key == "model_source":
                if value:
                    config.add_row("source", plain(f"{source_hash(value)} (s shows it)"))
                continue
            config.add_row(key, plain(value))
        self.source = run["config"].get("model_source", "")
        epochs = store.epochs(self.run_id)
        table = self.query_one("#detail-epochs", DataTable)
        measures = epoch_measures(run["config"])
        table.add_columns("epoch", *(m.header_with_unit for m in measures))
        for e in epochs:
            table.add_row(str(e["epoch"]), *(m.text(e, unit=False) for m in measures))
        curve = store.loss_curve(self.run_id)
        xs, ys = [p[0] for p in curve], [p[1] for p in curve]
        self.query_one("#detail-loss", LossChart).show(
            [Series("loss", xs, ys, color="gray", marker="dot"), Series("smoothed", xs, smooth(ys))]
        )
        self.show_panels(epochs, run["classes"])
        self.query_one("#detail-acc", LossChart).show(
            [Series("test acc", [e["epoch"] for e in epochs], [e["test_acc"] for e in epochs], color="green")]
        )

    def show_panels(self, epochs: list[dict], recorded_classes: list[str]) -> None:
        """The last epoch's confusion matrix, per-class accuracy and misclassified images."""
        panels = self.query_one("#detail-panels")
        if not epochs or not epochs[-1].get("confusion"):
            panels.display = False  # a run from before these were recorded, or none finished
            return
        last = epochs[-1]
        previous = epochs[-2]["class_acc"] if len(epochs) > 1 else None
        names = class_names(recorded_classes, len(last["class_acc"]))
        self.query_one("#detail-confusion", Static).update(confusion_matrix(last["confusion"], last["epoch"], names))
        self.query_one("#detail-classes", Static).update(
            class_accuracy(last["class_acc"], previous, last["epoch"], names)
        )
        images = last.get("wrong_images") or ""
        self.query_one("#detail-wrong", Static).update(image_strip(images, last["wrong_labels"] or [], 60, names))

    def action_source(self) -> None:
        if not self.source:
            self.app.notify("this run trains a built-in model: no source file", severity="warning")
            return
        from .source_view import SourceScreen

        run = self.app.store.run(self.run_id)
        self.app.push_screen(SourceScreen(f"Run {self.run_id}: {run['model']}", self.source))

    def action_clone(self) -> None:
        self.dismiss()
        self.app.clone_run(self.run_id)


def printable_lines(text: str) -> str:
    return "\n".join(printable(line) for line in text.splitlines())
