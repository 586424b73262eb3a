"""`?`: every key of the app, by where it works, made from the bindings themselves."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..safe_text import markup_safe


def key_lines(bindings) -> list[str]:
    lines = []
    for binding in bindings:
        if isinstance(binding, tuple):
            binding = Binding(*binding)
        keys = " / ".join(_KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))
        lines.append(f"  [b]{markup_safe(keys):>17}[/b]  {markup_safe(binding.description)}")
    return lines


_KEY_NAMES = {"question_mark": "?", "slash": "/", "space": "space", "delete": "del", "escape": "esc"}


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, tabs: list[tuple[str, list]]):
        """tabs: (title, bindings) of each tab, in order (the app knows its views; this screen does not)."""
        super().__init__()
        self.tabs = tabs

    def compose(self) -> ComposeResult:
        sections = [
            ("Everywhere", [b for b in type(self.app).BINDINGS if not b.key.startswith("f")]
             + [Binding("f1,f2,f3,f4", "", "tabs, also while typing in a field"), Binding("ctrl+p", "", "command palette")]),
            *self.tabs,
            ("Tables", [Binding("j,down", "", "down"), Binding("k,up", "", "up"),
                        Binding("home,end", "", "first / last row")]),
        ]  # fmt: skip
        text = []
        for title, bindings in sections:
            text += [f"[b $accent]{title}[/]", *key_lines(bindings), ""]
        with VerticalScroll(classes="dialog", id="help"):
            yield Static("\n".join(text[:-1]))
            yield Static("esc closes · sweeps: a list (1e-3,1e-2) or range (0..4) in any form field", classes="help")
