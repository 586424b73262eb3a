"""The Runs browser: every recorded run, or one row per group of seeds; filter (the store's filter
language), sort, select several, open, compare, export.

Filtering, sorting and grouping run in SQL and the table holds one page of rows (more load as the
cursor reaches the end), so a store of 10,000 runs opens as fast as one of ten.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static

from ...engine.config import TYPED_FIELDS
from ...engine.presets import REFERENCES
from ...store.actions import ActionError, delete_runs, rename_run, requeue_run, set_note, tag_runs, tag_summary
from ...store.columns import BY_NAME, COLUMNS, EVAL_COLUMN, MEANS, MEASURES, RESULTS, SPARSE, eval_header
from ...store.export import (
    ENV_MARK,
    MACHINE_ONLY,
    for_people,
    format_value,
    header,
    mixed_environments,
    partial_mark,
    spread_detail,
    table,
)
from ...store.run_filter import FilterError
from ..safe_text import markup_safe, middle_cut, plain, printable
from .run_table_view import RunTableView

PAGE = 200
CELL_WIDTH = 24  # a longer config value (a path in --eval-on) is cut in the middle
NAME_WIDTH = 32  # and a longer name or sweep


FRONT = ("test_acc", "seconds")  # what `p` marks the Pareto front of
FRONT_MARK = "◆"


def is_sparse(column: str) -> bool:
    """A result few runs record (raw acc, with --ema), or a group's statistic of one: shown only
    when a row on the tab has it."""
    return any(column == name or column.startswith(f"{name}_") for name in SPARSE)


SHOWN_RESULTS = tuple("epochs" if r == "epochs_done" else r for r in RESULTS)  # epochs: done/asked
SHORT = {c.name: c.short for c in COLUMNS if c.short} | {
    f"{m}_mean": BY_NAME[m].short + (" (mean ± std)" if i == 0 else "") for i, m in enumerate(MEASURES)
}  # the first group measure says what its cells are


def search_line(study: dict[str, Any]) -> Text:
    """A search's progress, as Text: its name is the user's and never read as markup."""
    pruner = f", pruned by {study['prune']}" if study["prune"] != "none" else ""
    line = Text.assemble(
        "search ",
        (printable(study["name"]), "bold"),
        f" ({study['search']}{pruner}): {study['proposed']}/{study['trials']} trials · {study['finished']} finished · ",
        (f"{study['pruned']} pruned", "magenta"),
        f" · {study['running']} running · {study['queued']} queued",
    )
    if study.get("front"):
        line.append(f" · Pareto front of {study['objective']}: ")
        line.append(f"{study['front']} trials", "bold")
    if study["best"] is not None:
        line.append(" · best ")
        line.append(format_value(study["objective"], study["best"]), "bold")
        line.append(f" {study['objective']} (run {study['best_run']})")
    return line


def official_files(group: dict[str, Any]) -> bool:
    """Whether the group's first run trained on its dataset's official files, as far as it knows."""
    return not str(group.get("data_files") or "").startswith("not the official")


def reference_cells(group: dict[str, Any], shown: list[str]) -> list[Any]:
    """The row under a group whose runs are a preset's recipe: what the preset's source published
    (its test accuracy and the runs behind it), dimmed; the group's own config cells left blank."""
    reference = REFERENCES[group["reference"]]
    label = "published" if official_files(group) else "published, other data"
    figures = {
        "preset": label,
        "n": format_value("n", reference.n) if reference.n else "",
        "test_acc_mean": format_value("test_acc", reference.accuracy),
    }
    return [""] + [Text(figures.get(column, ""), style="dim italic") for column in shown]


class RunsView(RunTableView):
    RELOAD_S = 2.0

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("space", "toggle_select", "Select", show=False),
        Binding("enter", "open", "Details", show=False),
        Binding("g", "toggle_groups", "Groups"),
        Binding("s", "sort", "Sort", show=False),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("c", "compare", "Compare"),
        Binding("l", "clone", "Clone", show=False),
        Binding("r", "resume", "Resume", show=False),
        Binding("d", "delete", "Delete", show=False),
        Binding("e", "export", "Export"),
        Binding("t", "tag", "Tag", show=False),
        Binding("n", "note", "Note", show=False),
        Binding("m", "rename", "Rename", show=False),
        Binding("w", "toggle_whole_values", "Whole values", show=False),
        Binding("p", "toggle_front", "Pareto front", show=False),
    ]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.columns: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self.total = 0
        self.selected: set[int] = set()
        self.sort_column = "id"
        self.sort_reverse = True
        self.grouped = False
        self.whole_values = False
        self.marking_front = False  # p: mark the Pareto front of FRONT among the rows shown
        self.front: set[int] = set()
        self.loaded = PAGE  # rows asked of the store; grows as the cursor reaches the end
        self.error = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="runs-bar"):
            yield Input(placeholder="filter: lr<0.01 status=finished tag:x sweep=s1 words… (/)", id="runs-filter")
            yield Static("", id="runs-count")
        yield Static("", id="runs-searches")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static(
            "space select · enter details · g groups · c compare · s/S sort · t tag · n note · m rename · l clone · "
            "r resume · d delete · e export · w whole values · p Pareto front",
            classes="hint",
        )

    @property
    def filter_text(self) -> str:
        return self.query_one("#runs-filter", Input).value

    @property
    def sort(self) -> str:
        column = {"epochs": "epochs_done"}.get(self.sort_column, self.sort_column)
        return ("-" if self.sort_reverse else "") + column

    @property
    def visible(self) -> list[dict[str, Any]]:
        """The rows loaded into the table, in its order."""
        return self.rows

    def query(self, limit: int | None) -> tuple[list[str], list[dict[str, Any]]]:
        columns, rows = table(self.app.store, self.filter_text, self.sort, self.grouped, True, limit)
        return [c for c in columns if not is_sparse(c) or any(row.get(c) is not None for row in rows)], rows

    def reload(self) -> None:
        try:
            columns, rows = self.query(self.loaded)
            total = self.app.store.count(self.filter_text)
            error = ""
        except FilterError as problem:
            columns, rows, total, error = self.columns, self.rows, self.total, str(problem)
        self.show_searches(rows)
        if (columns, rows, total, error) != (self.columns, self.rows, self.total, self.error):
            self.rows, self.total, self.error = rows, total, error
            self.selected &= {row["id"] for row in rows}
            self.redraw(columns)

    def redraw(self, columns: list[str] | None = None) -> None:
        data_table = self.query_one(DataTable)
        cursor = self.cursor_id()
        at_top = data_table.cursor_row == 0  # on the newest: stay on the newest as runs arrive
        shown = self.shown_columns(columns if columns is not None else self.columns)
        self.columns = columns if columns is not None else self.columns
        if [str(key.value) for key in data_table.columns] != ["mark", *shown]:
            data_table.clear(columns=True)
            data_table.add_column(" ", key="mark", width=1)
            for column in shown:
                held_out = eval_header(column.removesuffix("_mean"), short=True)
                data_table.add_column(SHORT.get(column) or held_out or header(column), key=column)
        else:
            data_table.clear()
        self.front = self.front_of(self.rows) if self.marking_front else set()
        for row in self.rows:
            data_table.add_row(*self.cells(row, shown), key=self.row_key(row))
            if self.grouped and row.get("reference"):
                data_table.add_row(*reference_cells(row, shown), key=f"published-{row['id']}")
        if cursor is not None and not at_top and any(r["id"] == cursor for r in self.rows):
            data_table.move_cursor(row=data_table.get_row_index(self.row_key({"id": cursor})))
        self.show_count()

    def shown_columns(self, columns: list[str]) -> list[str]:
        """The results first, then what varies: a wide config value never pushes them off screen."""
        if self.grouped:
            preset = ["preset"] if any(row.get("reference") for row in self.rows) else []
            kept = [c for c in columns if not spread_detail(c) and for_people(c) and c != "preset"]
            at = kept.index("n") if "n" in kept else 0
            return [*preset, *kept[at:], *kept[:at]]
        held_out = [c for c in columns if c not in BY_NAME and c not in TYPED_FIELDS and EVAL_COLUMN.match(c)]
        shown_held_out = [c for c in held_out if for_people(c)]
        config = [c for c in columns if c not in ("id", "name", "status", "sweep", "tags", "error", *SHOWN_RESULTS)]
        config = [c for c in config if c not in ("epochs_done", "model", *MACHINE_ONLY, *held_out) and for_people(c)]
        results = [r for r in SHOWN_RESULTS if not is_sparse(r) or r in columns]
        return ["id", "name", "status", *results, *shown_held_out, "model", *config, "sweep", "tags", "error"]

    def cut(self, text: str, width: int = CELL_WIDTH) -> str:
        """A long name or config value, its middle cut out (w shows every value whole)."""
        return text if self.whole_values else middle_cut(text, width)

    def row_key(self, row: dict[str, Any]) -> str:
        return str(row["id"])

    def cells(self, row: dict[str, Any], shown: list[str]) -> list[Any]:
        front = Text(FRONT_MARK, style="bold yellow") if row["id"] in self.front else ""
        cells: list[Any] = ["✓" if row["id"] in self.selected else front]
        for column in shown:
            value = row.get(column)
            if column == "preset" and self.grouped:  # the preset whose recipe the group is
                cells.append(plain(row.get("reference") or ""))
            elif column == "epochs" and not self.grouped:
                cells.append(plain(f"{row['epochs_done']}/{row['epochs']}"))
            elif column == "error":
                error = value or ""
                cells.append(Text(printable(error[:70]) + ("…" if len(error) > 70 else ""), style="red"))
            elif column in ("name", "sweep"):
                cells.append(plain(self.cut(value or "", NAME_WIDTH)))
            elif column == "tags":
                cells.append(plain(", ".join(value or [])))
            elif column.endswith("_mean"):
                measure = column[: -len("_mean")]
                std = row.get(f"{measure}_std")
                text = format_value(measure, value)
                cells.append(plain(text + (f" ± {format_value(measure, std)}" if text and std is not None else "")))
            elif column == "n" and mixed_environments(row):
                cells.append(Text.assemble(format_value(column, value), (ENV_MARK, "yellow")))
            elif column in TYPED_FIELDS:
                cells.append(plain(self.cut(format_value(column, value))))
            else:
                text = format_value(column, value)
                cells.append(plain(text + (partial_mark(column, row) if text else "")))
        return cells

    def show_searches(self, rows: list[dict[str, Any]]) -> None:
        """A line for each search among the rows shown (at most three): its trials by status and
        the best objective so far."""
        names = list(dict.fromkeys(str(row["sweep"]) for row in rows if row.get("sweep")))
        lines = [search_line(s) for s in self.app.store.studies(names[:50])[:3]] if names else []
        shown = self.query_one("#runs-searches", Static)
        shown.display = bool(lines)
        shown.update(Text("\n").join(lines))

    def show_count(self) -> None:
        arrow = "▼" if self.sort_reverse else "▲"
        what = "groups" if self.grouped else "runs"
        more = f" (first {len(self.rows):,})" if len(self.rows) >= self.loaded else ""
        text = (
            f"{len(self.rows):,} {what}{more} of {self.total:,} runs · {len(self.selected)} selected · "
            f"sorted by {SHORT.get(self.sort_column, header(self.sort_column))} {arrow}"
        )
        if self.grouped and any(map(mixed_environments, self.rows)):
            text += f" · [yellow]{ENV_MARK}[/] environments differ"
        if self.marking_front:
            text += f" · [yellow]{FRONT_MARK}[/] the Pareto front of test acc. and time: {len(self.front)}"
        if self.error:
            text = f"[red]{markup_safe(self.error)}[/]"
        self.query_one("#runs-count", Static).update(text)

    def front_of(self, rows: list[dict[str, Any]]) -> set[int]:
        """The ids of the rows on the Pareto front of FRONT (store/pareto.py): finished runs, or
        groups by their means."""
        from ...store.columns import better
        from ...store.pareto import pareto_front

        def value(row: dict[str, Any], column: str) -> float | None:
            return row.get(f"{column}_mean", row.get(column)) if self.grouped else row.get(column)

        kept = [r for r in rows if self.grouped or r["status"] == "finished"]
        points = [[value(r, c) for c in FRONT] for r in kept]
        return {kept[i]["id"] for i in pareto_front(points, [better(c) for c in FRONT])}

    def action_toggle_front(self) -> None:
        self.marking_front = not self.marking_front
        self.redraw()

    def chosen_ids(self) -> list[int]:
        """The selected runs, or the one under the cursor when none is selected (a group stands
        for its runs)."""
        chosen = self.selected or ({self.cursor_id()} - {None})
        if self.grouped:
            return sorted(i for row in self.rows if row["id"] in chosen for i in row["ids"])
        return sorted(chosen)

    @on(Input.Changed, "#runs-filter")
    def _filter(self) -> None:
        self.loaded = PAGE
        self.reload()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    @on(DataTable.RowSelected)
    def _row(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    @on(DataTable.RowHighlighted)
    def _near_end(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= len(self.rows) - 5 and len(self.rows) >= self.loaded:
            self.loaded += PAGE
            self.reload()

    def sort_by(self, column: str) -> None:
        shown = self.shown_columns(self.columns)
        if column not in shown:
            return
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, column not in ("name", "model", "status")
        self.reload()

    def action_sort(self) -> None:
        """Sort by the next column (clicking a header sorts by it)."""
        shown = [c for c in self.shown_columns(self.columns) if c not in ("tags", "error")]
        index = shown.index(self.sort_column) if self.sort_column in shown else -1
        self.sort_by(shown[(index + 1) % len(shown)])

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.reload()

    def action_toggle_groups(self) -> None:
        """One row per group of runs that differ only in seed (mean ± std), or one per run."""
        self.grouped = not self.grouped
        self.selected.clear()
        if self.grouped and self.sort_column in MEASURES:
            self.sort_column += "_mean"
        elif not self.grouped and self.sort_column.endswith("_mean"):
            self.sort_column = self.sort_column[: -len("_mean")]
        elif self.sort_column not in ("id", *MEANS):
            self.sort_column, self.sort_reverse = "id", True
        self.loaded = PAGE
        self.reload()

    def action_toggle_whole_values(self) -> None:
        """Every name and config value whole, or long ones cut in the middle (the default)."""
        self.whole_values = not self.whole_values
        self.redraw()

    def action_focus_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_toggle_select(self) -> None:
        run_id = self.cursor_id()
        if run_id is None:
            return
        self.selected ^= {run_id}
        self.redraw()
        self.query_one(DataTable).action_cursor_down()

    def action_open(self) -> None:
        run_id = self.cursor_id()
        if run_id is None:
            return
        if self.grouped:  # a group opens as its runs
            ids = self.chosen_ids()
            self.grouped = False
            self.sort_column, self.sort_reverse = "id", False
            filter_input = self.query_one("#runs-filter", Input)
            with filter_input.prevent(Input.Changed):  # reloaded here, in the new mode, at once
                filter_input.value = f"id={','.join(map(str, ids))}"
            self.loaded = PAGE
            self.reload()
            return
        from ..screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(run_id))

    def action_compare(self) -> None:
        """Overlay the selected runs, or the selected groups' means."""
        from ..screens.compare import CompareScreen

        if self.grouped:
            groups = [row["ids"] for row in self.rows if row["id"] in self.selected]
            if len(groups) < 2:
                self.app.notify("select two or more groups with space, then press c", severity="warning")
                return
            self.app.push_screen(CompareScreen(groups=groups))
            return
        ids = self.chosen_ids()
        if len(ids) < 2:
            self.app.notify("select two or more runs with space, then press c", severity="warning")
            return
        self.app.push_screen(CompareScreen(ids))

    def action_clone(self) -> None:
        run_id = self.cursor_id()
        if run_id is not None:
            self.app.clone_run(run_id)

    def action_resume(self) -> None:
        """Queue an interrupted, failed or cancelled run again; it continues from its checkpoint."""
        run_id = self.cursor_id()
        if run_id is None or self.grouped:
            return
        try:
            said = requeue_run(self.app.store, run_id, self.app.home.checkpoint_dir)
        except ActionError as problem:
            self.app.notify(str(problem), severity="warning")
            return
        if self.app.engine is not None:
            self.app.engine.wake()
        self.app.notify(said)
        self.reload()

    def action_delete(self) -> None:
        ids = self.chosen_ids()
        if not ids:
            return
        from ..screens.confirm import ConfirmScreen

        def done(confirmed: bool | None) -> None:
            if confirmed:
                deleted = delete_runs(self.app.store, ids, self.app.home.checkpoint_dir)
                kept = len(ids) - len(deleted)
                self.app.notify(f"deleted {len(deleted)} run(s)" + (f"; {kept} running, kept" if kept else ""))
                self.selected -= set(deleted)
                self.reload()

        what = f"run {ids[0]}" if len(ids) == 1 else f"{len(ids)} runs ({', '.join(map(str, ids))})"
        self.app.push_screen(ConfirmScreen(f"Delete {what} with their epochs, losses and checkpoints?", "Delete"), done)

    def action_export(self) -> None:
        from ..screens.export_dialog import ExportScreen

        self.app.push_screen(ExportScreen(self.filter_text, self.sort, self.grouped))

    def action_tag(self) -> None:
        """Add (+name or name) and remove (-name) tags of the chosen runs."""
        ids = self.chosen_ids()
        if not ids:
            return
        from ..screens.text_prompt import TextPrompt

        def done(text: str | None) -> None:
            words = (text or "").split()
            if not words:
                return
            try:
                tag_runs(self.app.store, ids, words)
            except ActionError as problem:
                self.app.notify(markup_safe(str(problem)), severity="error")
                return
            self.app.notify(markup_safe(tag_summary(words, len(ids))))
            self.reload()

        what = f"run {ids[0]}" if len(ids) == 1 else f"{len(ids)} runs"
        self.app.push_screen(TextPrompt(f"Tags of {what}", hint="+name adds (or just name), -name removes"), done)

    def action_note(self) -> None:
        run_id = self.single_run("a note")
        if run_id is None:
            return
        from ..screens.text_prompt import TextPrompt

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                set_note(self.app.store, run_id, text)
            except ActionError as problem:  # the command line's rule and words
                self.app.notify(markup_safe(str(problem)), severity="error")
                return
            self.reload()

        note = self.app.store.run(run_id)["note"]
        self.app.push_screen(TextPrompt(f"Note of run {run_id}", note, "enter keeps it; an empty note clears it"), done)

    def action_rename(self) -> None:
        run_id = self.single_run("a name")
        if run_id is None:
            return
        from ..screens.text_prompt import TextPrompt

        run = self.app.store.run(run_id)

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                rename_run(self.app.store, run_id, text)  # a new run's rules for names
            except ActionError as problem:
                self.app.notify(markup_safe(str(problem)), severity="error")
                return
            self.reload()

        self.app.push_screen(TextPrompt(f"Name of run {run_id}", run["name"]), done)

    def single_run(self, what: str) -> int | None:
        run_id = self.cursor_id()
        if run_id is not None and self.grouped:
            self.app.notify(f"{what} belongs to one run: press g for runs", severity="warning")
            return None
        return run_id
