"""What the Queue and Runs tabs share: a table of runs keyed by id, reloaded from the store
on a timer only while the tab is shown."""

from __future__ import annotations

from textual.containers import Vertical
from textual.widgets import DataTable


class RunTableView(Vertical):
    RELOAD_S = 1.0

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(self.RELOAD_S, self.reload_if_shown)

    def reload_if_shown(self) -> None:
        if self.is_on_screen:  # hidden tabs cost the training loop nothing
            self.reload()

    def reload(self) -> None:
        raise NotImplementedError

    def cursor_id(self) -> int | None:
        """The id of the run under the cursor (rows are keyed by run id)."""
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
