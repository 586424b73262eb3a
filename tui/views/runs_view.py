"""The Runs browser: every recorded run; filter, sort, select several, open, compare, export."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static

from store.export import format_value
from tui.safe_text import plain, printable
from tui.views.run_table_view import RunTableView

COLUMNS = (
    "id",
    "name",
    "status",
    "model",
    "dataset",
    "epochs",
    "test_acc",
    "best_test_acc",
    "test_loss",
    "images_per_s",
    "seconds",
    "error",
)
HEADERS = {
    "test_acc": "acc %",
    "best_test_acc": "best %",
    "test_loss": "loss",
    "images_per_s": "img/s",
    "seconds": "time s",
}


def matches(row: dict[str, Any], text: str) -> bool:
    """Every word of the filter appears in the run's id, name, status, model or dataset."""
    haystack = " ".join(str(row[c]) for c in ("id", "name", "status", "model", "dataset")).lower()
    return all(word in haystack for word in text.lower().split())


def sort_key(column: str):
    # Blanks (runs without results) sort last whichever way, numbers as numbers.
    def key(row: dict[str, Any]):
        value = row["epochs_done"] if column == "epochs" else row[column]
        return (value is None, value if value is not None else 0)

    return key


class RunsView(RunTableView):
    RELOAD_S = 2.0

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("space", "toggle_select", "Select"),
        Binding("enter", "open", "Details", show=False),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("c", "compare", "Compare"),
        Binding("l", "clone", "Clone"),
        Binding("r", "resume", "Resume"),
        Binding("d", "delete", "Delete"),
        Binding("e", "export", "Export"),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: list[dict[str, Any]] = []
        self.selected: set[int] = set()
        self.sort_column = "id"
        self.sort_reverse = True

    def compose(self) -> ComposeResult:
        with Horizontal(id="runs-bar"):
            yield Input(placeholder="filter: model, status, name… (/)", id="runs-filter")
            yield Static("", id="runs-count")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static(
            "space select · enter details · c compare · s/S sort · l clone · r resume · d delete · e export",
            classes="hint",
        )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column(" ", key="mark", width=1)
        for column in COLUMNS:
            table.add_column(HEADERS.get(column, column), key=column)
        super().on_mount()

    def reload(self) -> None:
        rows = self.app.store.runs()
        if rows != self.rows:
            self.rows = rows
            self.selected &= {row["id"] for row in rows}
            self.redraw()

    @property
    def visible(self) -> list[dict[str, Any]]:
        text = self.query_one("#runs-filter", Input).value
        rows = [row for row in self.rows if matches(row, text)]
        return sorted(rows, key=sort_key(self.sort_column), reverse=self.sort_reverse)

    def redraw(self) -> None:
        table = self.query_one(DataTable)
        cursor = self.cursor_id()
        table.clear()
        visible = self.visible
        for row in visible:
            cells = ["✓" if row["id"] in self.selected else ""]
            for column in COLUMNS:
                if column == "epochs":
                    cells.append(f"{row['epochs_done']}/{row['epochs']}")
                elif column == "error":
                    error = row["error"] or ""
                    cells.append(Text(printable(error[:70]) + ("…" if len(error) > 70 else ""), style="red"))
                else:
                    cells.append(plain(format_value(column, row[column])))
            table.add_row(*cells, key=str(row["id"]))
        if cursor is not None and any(r["id"] == cursor for r in visible):
            table.move_cursor(row=table.get_row_index(str(cursor)))
        arrow = "▼" if self.sort_reverse else "▲"
        self.query_one("#runs-count", Static).update(
            f"{len(visible)} of {len(self.rows)} runs · {len(self.selected)} selected · "
            f"sorted by {HEADERS.get(self.sort_column, self.sort_column)} {arrow}"
        )

    def chosen_ids(self) -> list[int]:
        """The selected runs, or the one under the cursor when none is selected."""
        if self.selected:
            return sorted(self.selected)
        cursor = self.cursor_id()
        return [] if cursor is None else [cursor]

    @on(Input.Changed, "#runs-filter")
    def _filter(self) -> None:
        self.redraw()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    @on(DataTable.RowSelected)
    def _row(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def sort_by(self, column: str) -> None:
        if column not in COLUMNS:
            return
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, column != "name" and column != "model"
        self.redraw()

    def action_sort(self) -> None:
        """Sort by the next column (clicking a header sorts by it)."""
        self.sort_by(COLUMNS[(COLUMNS.index(self.sort_column) + 1) % len(COLUMNS)])

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.redraw()

    def action_focus_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_toggle_select(self) -> None:
        run_id = self.cursor_id()
        if run_id is None:
            return
        self.selected ^= {run_id}
        self.redraw()
        self.query_one(DataTable).action_cursor_down()

    def action_open(self) -> None:
        run_id = self.cursor_id()
        if run_id is not None:
            from tui.screens.run_detail import RunDetailScreen

            self.app.push_screen(RunDetailScreen(run_id))

    def action_compare(self) -> None:
        ids = self.chosen_ids()
        if len(ids) < 2:
            self.app.notify("select two or more runs with space, then press c", severity="warning")
            return
        from tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(ids))

    def action_clone(self) -> None:
        run_id = self.cursor_id()
        if run_id is not None:
            self.app.clone_run(run_id)

    def action_resume(self) -> None:
        """Queue an interrupted, failed or cancelled run again; it continues from its checkpoint."""
        run_id = self.cursor_id()
        if run_id is None:
            return
        if self.app.store.requeue(run_id):
            if self.app.engine is not None:
                self.app.engine.wake()
            self.app.notify(f"run {run_id} queued to continue from its last checkpoint")
            self.reload()
        else:
            self.app.notify("only interrupted, failed or cancelled runs resume", severity="warning")

    def action_delete(self) -> None:
        ids = self.chosen_ids()
        if not ids:
            return
        from tui.screens.confirm import ConfirmScreen

        def done(confirmed: bool | None) -> None:
            if confirmed:
                deleted = [run_id for run_id in ids if self.app.home.delete_run(self.app.store, run_id)]
                kept = len(ids) - len(deleted)
                self.app.notify(f"deleted {len(deleted)} run(s)" + (f"; {kept} running, kept" if kept else ""))
                self.selected -= set(deleted)
                self.reload()

        what = f"run {ids[0]}" if len(ids) == 1 else f"{len(ids)} runs ({', '.join(map(str, ids))})"
        self.app.push_screen(ConfirmScreen(f"Delete {what} with their epochs, losses and checkpoints?", "Delete"), done)

    def action_export(self) -> None:
        from tui.screens.export_dialog import ExportScreen

        self.app.push_screen(ExportScreen(self.visible))
