"""A model file's recorded source, read-only: what the run trained, whatever the file is now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TextArea

from ..safe_text import markup_safe, printable


class SourceScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, title: str, source: str):
        super().__init__()
        self.title_text, self.source = title, source

    def compose(self) -> ComposeResult:
        with Vertical(classes="panel"):
            yield Static(f"[b]{markup_safe(self.title_text)}[/b] · the source recorded with the run", id="source-title")
            # Shown as text: a control character in the source is spelled out, never obeyed.
            shown = "".join(printable(line.rstrip("\r\n")) + "\n" for line in self.source.splitlines(True))
            yield TextArea(shown, read_only=True, show_line_numbers=True, id="source-text")
        yield Footer()
