"""The interactive app: a first screen with the run table (the full app is being built)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

from tui.cli import Home, display_row


class CifarApp(App):
    TITLE = "cifar-tui"
    BINDINGS = [("q", "quit", "Quit"), ("r", "refresh", "Refresh")]

    def __init__(self, home: Home):
        super().__init__()
        self.home = home

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.home.path)
        self.action_refresh()

    def action_refresh(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        rows = [display_row(row) for row in self.home.store().runs()]
        if rows:
            table.add_columns(*rows[0])
            table.add_rows([list(row.values()) for row in rows])
        else:
            table.add_column("No runs yet: try `cifar-tui run --dataset synthetic --epochs 1`")
