"""The Queue: the running run and the queued ones in the order they will run."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ...store.actions import ActionError, remove_queued
from ..safe_text import markup_safe, plain
from .run_table_view import RunTableView

COLUMNS = ("id", "status", "name", "model", "dataset", "epochs", "batch", "lr", "device")
SHOWN_ANYWAY = {"name", "model", "dataset", "epochs", "batch_size", "lr", "device"}  # fixed columns above


class QueueView(RunTableView):
    BINDINGS = [
        Binding("K,shift+up", "move(-1)", "Move up", show=False),
        Binding("J,shift+down", "move(1)", "Move down", show=False),
        Binding("c", "cancel_run", "Cancel"),
        Binding("x,delete", "remove", "Remove"),
        Binding("p", "app.toggle_pause", "Pause/resume"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", id="queue-status")
        yield DataTable(id="queue-table", cursor_type="row", zebra_stripes=True)
        yield Static("Runs added from another shell (cifar-tui queue add) appear here within a second.", classes="hint")

    def on_mount(self) -> None:
        self._rows: list[tuple] = []
        self._varying: list[str] | None = None
        super().on_mount()

    def reload(self) -> None:
        # The fields that tell the queue's runs apart (a seed sweep's seed), as the Runs tab shows them.
        varying = [f for f in self.app.store.queue_varying_fields() if f not in SHOWN_ANYWAY]
        table = self.query_one(DataTable)
        if varying != self._varying:
            self._varying, self._rows = varying, []
            table.clear(columns=True)
            table.add_columns(*COLUMNS, *varying)
        rows = []
        for run in self.app.store.queue():
            config = run["config"]
            epochs = f"{run['epochs_done']}/{run['epochs']}"
            rows.append(
                (
                    run["id"],
                    run["status"],
                    run["name"],
                    run["model"],
                    run["dataset"],
                    epochs,
                    config.get("batch_size", ""),
                    config.get("lr", ""),
                    # Where a running run is, as its worker recorded it; where a queued one asks to go.
                    run["device"] if run["status"] == "running" and run["device"] else config.get("device", ""),
                    *(config.get(field, "") for field in varying),
                )
            )
        paused = self.app.engine_paused
        self.query_one("#queue-status", Static).update(
            f"[b]{len(rows)}[/b] in the queue · engine {'[yellow]paused[/]' if paused else '[green]ready[/]'}"
            f" · K/J move · c cancel · x remove · p {'resume' if paused else 'pause'}"
        )
        if rows == self._rows:
            return
        cursor_key, cursor_row = self.cursor_id(), table.cursor_row
        self._rows = rows
        table.clear()
        for row in rows:
            table.add_row(*(plain(v) for v in row), key=str(row[0]))
        if cursor_key is not None and str(cursor_key) in {str(r[0]) for r in rows}:
            table.move_cursor(row=table.get_row_index(str(cursor_key)))
        elif rows:  # its run left: stay at the same place, not at the top
            table.move_cursor(row=min(cursor_row, len(rows) - 1))

    def action_move(self, offset: int) -> None:
        run_id = self.cursor_id()
        if run_id is not None and self.app.store.move(run_id, offset):
            self.reload()
            table = self.query_one(DataTable)
            table.move_cursor(row=table.get_row_index(str(run_id)))

    def action_cancel_run(self) -> None:
        run_id = self.cursor_id()
        if run_id is not None:
            self.app.cancel_run(run_id, then=self.reload)

    def action_remove(self) -> None:
        """Delete a queued run (one that has not started), after asking."""
        run_id = self.cursor_id()
        if run_id is None:
            return
        if self.app.store.run(run_id)["status"] != "queued":
            self.app.notify("only queued runs can be removed; cancel a running one with c", severity="warning")
            return
        from ..screens.confirm import ConfirmScreen

        def answer(confirmed: bool | None) -> None:
            if confirmed:
                try:
                    self.app.notify(remove_queued(self.app.store, run_id, self.app.home.checkpoint_dir))
                except ActionError as problem:  # it started meanwhile
                    self.app.notify(markup_safe(str(problem)), severity="warning")
            self.reload()

        self.app.push_screen(ConfirmScreen(f"Remove queued run {run_id} for good?", "Remove"), answer)
