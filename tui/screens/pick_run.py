"""Choose which training run Live follows, when several train at once (other workers, devices)."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..safe_text import markup_safe


class PickRunScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]

    def __init__(self, runs: list[dict[str, Any]], current: int | None):
        super().__init__()
        self.runs, self.current = runs, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("[b]Watch which training run?[/b]", classes="question")
            yield OptionList(
                *(
                    Option(
                        f"{'▶ ' if run['id'] == self.current else '  '}run {run['id']} "
                        f"{markup_safe(run['name'] or run['model'])} · epoch {run['epochs_done']}/{run['epochs']}"
                        f" · {markup_safe(run['trained_on'] or 'starting')}",
                        id=str(run["id"]),
                    )
                    for run in self.runs
                ),
                id="pick-run",
            )

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))
