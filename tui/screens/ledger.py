"""The presets ledger (command palette: "Presets ledger"): each preset's published test accuracy
beside what its finished runs reached in this store, as `cifar-tui presets` prints it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ..preset_references import ledger_cells


class LedgerScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, rows: list[dict[str, Any]]):
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="panel", id="ledger"):
            yield Static("[b]Presets[/b]: published, and measured here", id="ledger-title")
            yield DataTable(id="ledger-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                "a run counts if made from the preset with no recipe field changed (seed, device, speed aside); "
                "only runs on the official files of the reference's dataset are compared · esc closes",
                classes="help",
            )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        cells = [ledger_cells(row) for row in self.rows]
        if not cells:
            return
        table.add_columns(*cells[0])
        for row in cells:
            table.add_row(*(Text(value) for value in row.values()))  # literal text, never markup
        table.focus()
