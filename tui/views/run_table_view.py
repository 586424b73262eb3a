"""What the Queue and Runs tabs share: a table of runs keyed by id, reloaded from the store
on a timer only while the tab is shown."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable


class RunTableView(Vertical):
    RELOAD_S = 1.0
    BINDINGS = [
        Binding("j", "table('cursor_down')", "Down", show=False),
        Binding("k", "table('cursor_up')", "Up", show=False),
        # priority: the table's own home/end scroll sideways
        Binding("home", "table('scroll_top')", "First row", show=False, priority=True),
        Binding("end", "table('scroll_bottom')", "Last row", show=False, priority=True),
    ]

    def action_table(self, action: str) -> None:
        """vi keys and Home/End for the table, whatever has focus in the view."""
        table = self.query_one(DataTable)
        if action == "scroll_top":
            table.move_cursor(row=0)
        elif action == "scroll_bottom":
            table.move_cursor(row=table.row_count - 1)
        else:
            getattr(table, f"action_{action}")()

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(self.RELOAD_S, self.reload_if_shown)

    def reload_if_shown(self) -> None:
        if self.is_on_screen:  # hidden tabs cost the training loop nothing
            self.reload()

    def reload(self) -> None:
        raise NotImplementedError

    def cursor_id(self) -> int | None:
        """The id of the run under the cursor (rows are keyed by run id; a row of another key, as
        a published figure's, stands for no run)."""
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        return int(key) if key.isdigit() else None
