"""Compare runs: overlaid loss and accuracy curves, the config fields that differ, the results."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from store.export import format_value
from tui.safe_text import plain, printable
from tui.widgets.loss_chart import LossChart, Series, smooth

COLORS = ["cyan", "magenta", "green", "yellow", "red", "blue", "orange", "white"]
RESULTS = ("status", "epochs_done", "test_acc", "best_test_acc", "test_loss", "images_per_s", "seconds")


def differing_fields(configs: list[dict]) -> list[str]:
    keys = sorted({key for config in configs for key in config})
    return [key for key in keys if len({repr(config.get(key)) for config in configs}) > 1]


class CompareScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, run_ids: list[int]):
        super().__init__()
        self.run_ids = run_ids

    def compose(self) -> ComposeResult:
        with Vertical(classes="panel"):
            yield Static("", id="compare-title")
            with Horizontal(id="compare-charts"):
                yield LossChart(title="batch loss (smoothed)", id="compare-loss")
                yield LossChart(title="test accuracy %", xlabel="epoch", id="compare-acc")
            yield DataTable(id="compare-table", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        store = self.app.store
        runs = [run for run in (store.run(run_id) for run_id in self.run_ids) if run is not None]
        differing = differing_fields([run["config"] for run in runs])
        self.query_one("#compare-title", Static).update(
            f"[b]Comparing {len(runs)} runs[/b] · config fields that differ: {', '.join(differing) or 'none'}"
        )
        loss_series, acc_series = [], []
        for index, run in enumerate(runs):
            color = COLORS[index % len(COLORS)]
            label = printable(f"{run['id']} {run['name'] or run['model']}")
            curve = store.loss_curve(run["id"], max_points=500)
            loss_series.append(Series(label, [p[0] for p in curve], smooth([p[1] for p in curve]), color))
            epochs = store.epochs(run["id"])
            acc_series.append(Series(label, [e["epoch"] for e in epochs], [e["test_acc"] for e in epochs], color))
        self.query_one("#compare-loss", LossChart).show(loss_series)
        self.query_one("#compare-acc", LossChart).show(acc_series)
        table = self.query_one("#compare-table", DataTable)
        table.add_column("run")
        for index, run in enumerate(runs):
            table.add_column(
                Text(printable(f"{run['id']} {run['name'] or run['model']}"), style=COLORS[index % len(COLORS)])
            )
        for key in differing:
            table.add_row(key, *(plain(run["config"].get(key, "")) for run in runs))
        for key in RESULTS:
            table.add_row(f"[b]{key}[/b]", *(format_value(key, run[key]) for run in runs))
