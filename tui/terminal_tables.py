"""How the command line shows runs on a terminal: tables that fit its width, a run's config by
form group, rows as people read them, and a run as `show` and `show --json` print it."""

from __future__ import annotations

import os
from typing import Any

from .safe_text import middle_cut, plain, printable


def run_document(row: dict[str, Any], epochs: list[dict[str, Any]]) -> dict[str, Any]:
    """A run as `show --json` prints it: the keys of `runs --json`, then its epochs."""
    from ..store.export import HISTORY_KEYS, history_rows, run_record

    record = run_record(row, row["config"])
    record["epochs_history"] = [{k: e.get(k) for k in HISTORY_KEYS if k != "run_id"} for e in history_rows(row, epochs)]
    return record


def config_rows(config: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's config by form group, in declaration order; a field an older version stored is kept."""
    from ..engine.config import SETTINGS
    from ..engine.user_model import source_hash

    rows, group = [], None
    for name, setting in SETTINGS.items():
        if name in config:
            value = config[name]
            if name == "model_source":
                if not value:
                    continue
                value = f"{source_hash(value)} ({len(value.splitlines())} lines; show --source prints it)"
            rows.append({"group": setting.group if setting.group != group else "", "field": name, "value": value})
            group = setting.group
    rows += [{"group": "other", "field": k, "value": v} for k, v in config.items() if k not in SETTINGS]
    return rows


def environment_rows(environment: dict[str, Any]) -> list[dict[str, str]]:
    """A run's environment as field and value rows, in engine/environment.py's order."""
    from ..engine.environment import ENVIRONMENT

    return [
        {"field": f.label, "value": str(environment[f.key])} for f in ENVIRONMENT if environment.get(f.key) is not None
    ]


def people_rows(columns: list[str], rows: list[dict[str, Any]], plus_minus: str = "std") -> list[dict[str, str]]:
    """Rows as people read them: worded headers, rounded numbers, mean ± spread in one cell."""
    from ..store.export import people_cells, people_headers

    headers = people_headers(columns, plus_minus, rows)
    return [dict(zip(headers, people_cells(row, columns, str, "±", plus_minus))) for row in rows]


def _numeric(text: str) -> bool:
    """A cell that reads as a number: 94.01, 1,866, 61.50*, 94.01 ± 0.12 (held-out sets' columns
    are named by the user's sets, so their headers cannot be listed)."""
    try:
        [float(part.replace(",", "").rstrip("*†")) for part in text.split(" ± ")]
    except ValueError:
        return False
    return True


def print_table(rows: list[dict[str, Any]], title: str, note: str | None = None) -> None:
    """A table that fits the terminal: numbers are never cut (columns are dropped instead, the
    least useful first, and the caption names them), text is cut with an ellipsis, one line a row."""
    from rich.console import Console
    from rich.table import Table

    from ..store.export import NUMERIC, format_value, header

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=200)  # a pipe or a file: no terminal to fit (unless COLUMNS says)
    columns = list(rows[0]) if rows else ["(none)"]
    cells = [{c: printable(format_value(c, row[c])) for c in columns} for row in rows]
    numeric = NUMERIC | {header(c) for c in NUMERIC} | {"params"}  # text (a "value" column) reads from the left
    numeric |= {c for c in columns if any(r[c] for r in cells) and all(_numeric(r[c]) for r in cells if r[c])}

    def least_width(column: str) -> int:
        widest = max((len(r[column]) for r in cells), default=0)
        word = max(map(len, str(column).split()), default=1)  # a header wraps between its words
        return max(widest, min(word, 8)) if column in numeric else min(max(widest, word), 8)

    kept = list(columns)
    first_accuracy = next((c for c in columns if "acc" in c.lower()), None)
    essential = {columns[0], "Name", "name", "Status", "status", "field", first_accuracy}
    empty = [c for c in columns if not any(r[c] for r in cells)]
    while sum(least_width(c) + 3 for c in kept) + 2 > console.width:
        droppable = [c for c in kept if c not in essential]
        if not droppable:
            break
        # an empty column goes first, then the rightmost (the varying fields come after the results)
        kept.remove(next((c for c in droppable if c in empty), droppable[-1]))

    # Each column starts at the width it reads well at (its header and cells whole, up to 60) and
    # gives up width, the one with the most to spare first, down to its least, until the table
    # fits: a number's least keeps it whole (its header may wrap between words).
    def comfortable_width(column: str) -> int:
        widest = max((len(r[column]) for r in cells), default=0)
        return min(max(widest, len(str(column))), 60)

    widths = {c: max(least_width(c), comfortable_width(c)) for c in kept}

    start = dict(widths)

    def headers_wrap(column: str) -> int:  # first a number's header wraps between its words; no text is cut yet
        if column not in numeric:
            return start[column]
        return max(least_width(column), *map(len, str(column).split()))

    for floor in (headers_wrap, least_width):
        while sum(w + 3 for w in widths.values()) + 2 > console.width:
            roomiest = max(kept, key=lambda c: widths[c] - floor(c))
            if widths[roomiest] <= floor(roomiest):
                break
            widths[roomiest] -= 1
    hidden = [c for c in columns if c not in kept and c not in empty]
    hidden_empty = [c for c in columns if c not in kept and c in empty]
    captions = [note] if note else []
    captions += [f"not shown (too narrow): {', '.join(hidden)}"] if hidden else []
    captions += [f"not shown (empty): {', '.join(hidden_empty)}"] if hidden_empty else []
    caption = "\n".join(captions) or None
    table = Table(title=plain(title), title_justify="left", caption=caption, caption_justify="left")
    for column in kept:
        is_number = column in numeric
        table.add_column(
            column,
            justify="right" if is_number else "left",
            no_wrap=not is_number,  # a number column may wrap its header; its width keeps its numbers whole
            overflow="fold" if is_number else "ellipsis",
            width=widths[column],  # the widths that fit, as reckoned above (Rich's own may overflow)
        )
    for row in cells:  # text cut in its middle: a path keeps its start and its file's name
        table.add_row(*(plain(row[c] if c in numeric else middle_cut(row[c], widths[c])) for c in kept))
    console.print(table)


def print_run(row: dict[str, Any], epochs: list[dict[str, Any]]) -> None:
    """A run as `show` prints it: its config, its summary, its epochs and a model file's traceback;
    figures on part of the test set carry the tables' mark."""
    from ..store.columns import PER_EPOCH, RESULTS, epoch_measures
    from ..store.export import PARTIAL_NOTE, format_value, partial_mark

    def marked(key: str, source: dict[str, Any]) -> str:
        return format_value(key, source[key]) + partial_mark(key, source) if source[key] is not None else ""

    summary = {key: row[key] for key in ("status", "sweep", "tags", "note", "device_name", "params", *RESULTS, "error")}
    summary["params"] = f"{row['params']:,}" if row["params"] else None
    summary["tags"] = ", ".join(summary["tags"]) or None
    note = PARTIAL_NOTE if row.get("eval_images") else None
    print_table(config_rows(row["config"]), title=f"Run {row['id']}: config")
    print_table(
        [{"field": k, "value": marked(k, {**row, k: v})} for k, v in summary.items() if v not in (None, "")],
        title="Summary",
        note=note,
    )
    shown = {m.name for m in epoch_measures(row["config"])}  # raw acc only for a run with --ema
    per_epoch = ("epoch", *(k for k in PER_EPOCH if k in shown))
    print_table([{k: marked(k, e) for k in per_epoch} for e in epochs], title="Epochs", note=note)
    if row.get("environment"):
        print_table(environment_rows(row["environment"]), title="Environment (what it ran on)")
    if row.get("error_detail"):
        print("Error detail (the model file's traceback):")
        for line in row["error_detail"].splitlines():
            print(printable(line))
