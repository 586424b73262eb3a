"""Export the Runs tab's filtered table to a file: its runs, its groups (mean ± std) or the runs'
per-epoch history, in any export format; asks before overwriting a file."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, Switch

from ...store.actions import KINDS, ActionError, ExportRequest, export_text
from ...store.export import FORMATS
from ..output_file import OutputFailed, OutputRefused, check_output, write_output
from ..safe_text import markup_safe


class ExportScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, filter_text: str = "", sort: str = "-id", grouped: bool = False, folder: Path | None = None):
        super().__init__()
        self.filter_text = filter_text
        self.sort = sort
        self.grouped = grouped
        self.folder = folder or Path.cwd()
        self.overwrite_ok: Path | None = None  # the file the user agreed to replace

    def compose(self) -> ComposeResult:
        count = self.app.store.count(self.filter_text) if self.filter_text is not None else 0
        shown = f" matching “{markup_safe(self.filter_text)}”" if self.filter_text.strip() else ""
        with Vertical(classes="dialog"):
            yield Static(f"[b]Export {count:,} runs[/b]{shown}", classes="question")
            with Horizontal(classes="field"):
                yield Label("rows", classes="name")
                yield Select(
                    [(f"{k}: {v}", k) for k, v in KINDS.items()],
                    value="groups" if self.grouped else "runs",
                    allow_blank=False,
                    id="export-kind",
                )
            with Horizontal(classes="field"):
                yield Label("format", classes="name")
                yield Select([(f, f) for f in FORMATS], value="md", allow_blank=False, id="export-format")
            with Horizontal(classes="field"):
                yield Label("±", classes="name")
                yield Select(
                    [("sample std", "std"), ("standard error", "sem"), ("95% CI half-width", "ci")],
                    value="std",
                    allow_blank=False,
                    id="export-plus-minus",
                )
                yield Static("a group's ± in md and latex (csv, json: all three)", classes="help")
            with Horizontal(classes="field"):
                yield Label("config", classes="name")
                yield Switch(value=True, id="export-varying")
                yield Static("only the fields that differ among the runs", classes="help")
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

    def text(self, kind: str, fmt: str, varying: bool, plus_minus: str = "std") -> tuple[str, int]:
        """(the file's text, its number of rows): the command line's export (store/actions.py)."""
        grouped = kind == "groups" or (kind == "robustness" and self.grouped)
        request = ExportRequest(kind, fmt, self.filter_text, self.sort, varying, None, plus_minus, grouped=grouped)
        return export_text(self.app.store, request)

    @on(Button.Pressed, "#write")
    @on(Input.Submitted, "#export-path")
    def write(self) -> None:
        fmt = str(self.query_one("#export-format", Select).value)
        kind = str(self.query_one("#export-kind", Select).value)
        varying = self.query_one("#export-varying", Switch).value
        plus_minus = str(self.query_one("#export-plus-minus", Select).value)
        path_text = self.query_one("#export-path", Input).value.strip()
        error = self.query_one("#export-error", Static)
        if not path_text:
            error.update("file: give a file name")
            return
        path = Path(path_text).expanduser()
        try:
            check_output(self.app.home, path)  # the store is never an output, not even once asked
        except OutputRefused as problem:
            error.update(markup_safe(str(problem)))
            return
        if path.exists() and self.overwrite_ok != path:
            self.overwrite_ok = path
            error.update(markup_safe(f"file: {path} exists; press Write again to replace it"))
            return
        try:
            text, count = self.text(kind, fmt, varying, plus_minus)
            write_output(self.app.home, path, text)
        except (ActionError, OutputFailed, OutputRefused) as problem:
            error.update(markup_safe(str(problem)))
            return
        self.app.notify(markup_safe(f"wrote {count} rows to {path}"))
        self.dismiss(path)
