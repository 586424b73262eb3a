"""A line of text asked for in a modal dialog (a name, a note, tags): enter answers, escape cancels."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..safe_text import markup_safe


class TextPrompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str, value: str = "", hint: str = ""):
        super().__init__()
        self.question, self.value, self.hint = question, value, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(markup_safe(self.question), classes="question")
            yield Input(self.value, id="prompt-input", select_on_focus=False)
            yield Static(markup_safe(self.hint), classes="help", id="prompt-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _answer(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def show_error(self, message: str) -> None:
        hint = self.query_one("#prompt-hint", Static)
        hint.add_class("error")
        hint.update(markup_safe(message))
