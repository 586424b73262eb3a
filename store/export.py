"""The run table as csv, json, a GitHub markdown table or a LaTeX tabular."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

EXPORT_COLUMNS = (
    "id",
    "name",
    "status",
    "model",
    "dataset",
    "epochs",
    "epochs_done",
    "test_acc",
    "test_loss",
    "best_test_acc",
    "images_per_s",
    "seconds",
    "error",
)
NUMERIC = {"id", "epochs", "epochs_done", "test_acc", "test_loss", "best_test_acc", "images_per_s", "seconds"}
_DECIMALS = {"test_acc": 2, "best_test_acc": 2, "test_loss": 4, "train_loss": 4, "images_per_s": 0, "seconds": 1}


def format_value(column: str, value: Any) -> str:
    """How a value reads in a table: rounded numbers, blanks for nothing."""
    if value is None:
        return ""
    if column in _DECIMALS and isinstance(value, (int, float)):
        return f"{value:,.{_DECIMALS[column]}f}" if column == "images_per_s" else f"{value:.{_DECIMALS[column]}f}"
    return str(value)


def export_runs(rows: Iterable[dict[str, Any]], fmt: str, columns: tuple[str, ...] = EXPORT_COLUMNS) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format: unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    rows = [{column: row.get(column) for column in columns} for row in rows]
    return FORMATS[fmt].write(rows, columns)


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    # RFC 4180's CRLF: the writer then quotes a field holding either \r or \n, so a name with a
    # carriage return reads back whole (with "\n" alone, a lone \r went out unquoted).
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _json(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    return json.dumps(rows, indent=2) + "\n"


def _markdown(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---:" if c in NUMERIC else "---" for c in columns) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(cell(format_value(c, row[c])) for c in columns) + " |")
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _latex(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    def cell(text: str) -> str:
        return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text.replace("\n", " "))

    spec = "".join("r" if c in NUMERIC else "l" for c in columns)
    lines = [
        f"\\begin{{tabular}}{{{spec}}}",
        "\\hline",
        " & ".join(cell(c) for c in columns) + " \\\\",
        "\\hline",
    ]
    for row in rows:
        lines.append(" & ".join(cell(format_value(c, row[c])) for c in columns) + " \\\\")
    lines += ["\\hline", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    extension: str  # a file's, without the dot
    write: Callable[[list[dict[str, Any]], tuple[str, ...]], str]  # (rows, columns) -> text


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("csv", "csv", _csv),
        ExportFormat("json", "json", _json),
        ExportFormat("md", "md", _markdown),
        ExportFormat("latex", "tex", _latex),
    )
}
