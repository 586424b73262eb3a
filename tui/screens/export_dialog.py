"""Export the (filtered) run table to a file as csv, json, md or latex."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from store.export import FORMATS, export_runs
from tui.safe_text import markup_safe


class ExportScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, rows: list[dict[str, Any]], folder: Path | None = None):
        super().__init__()
        self.rows = rows
        self.folder = folder or Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"[b]Export {len(self.rows)} runs[/b] (the table as filtered)", classes="question")
            with Horizontal(classes="field"):
                yield Label("format", classes="name")
                yield Select([(f, f) for f in FORMATS], value="md", allow_blank=False, id="export-format")
            with Horizontal(classes="field"):
                yield Label("file", classes="name")
                yield Input(str(self.folder / "runs.md"), id="export-path")
            yield Static("", id="export-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Write", variant="primary", id="write")
                yield Button("Cancel", id="cancel")

    @on(Select.Changed, "#export-format")
    def _format(self, event: Select.Changed) -> None:
        path_input = self.query_one("#export-path", Input)
        path = Path(path_input.value)
        if path.stem:
            path_input.value = str(path.with_suffix("." + FORMATS[str(event.value)].extension))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#write")
    @on(Input.Submitted, "#export-path")
    def write(self) -> None:
        fmt = str(self.query_one("#export-format", Select).value)
        text = self.query_one("#export-path", Input).value.strip()
        error = self.query_one("#export-error", Static)
        if not text:
            error.update("file: give a file name")
            return
        path = Path(text).expanduser()
        try:
            path.write_text(export_runs(self.rows, fmt), encoding="utf-8")
        except OSError as problem:
            error.update(markup_safe(f"file: cannot write {path}: {problem.strerror or problem}"))
            return
        self.app.notify(markup_safe(f"wrote {len(self.rows)} runs to {path}"))
        self.dismiss(path)
