"""A report (report_content.py) as a page: one self-contained HTML file (figures inline as SVG,
styles inline, no script, no network: its Content-Security-Policy lets nothing load), or
Markdown with its figures as SVG files in a folder beside it. Every text is escaped for the
page: a run named `<script>` or `| *x* |` reads as typed."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from ...store.export import markdown_text
from .report_content import Report, Table
from .style import rendered

POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b;
       max-width: 72rem; margin: 2rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; } h2 { font-size: 1.15rem; margin-top: 2.2rem;
       border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.summary { color: #555; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .85rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e4e4e4; text-align: left; white-space: nowrap; }
th { background: #f4f4f4; font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; font-size: .8rem; white-space: pre-line; margin: 0 0 .6rem; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5rem; }
figure { margin: 0; width: 30rem; max-width: 100%; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: .85rem; color: #444; margin-top: .3rem; }
"""
_MARKDOWN_PROSE = re.compile(r"([\\`*_\[\]<>|#!~$])")  # what would turn our words into markup
_NUMBER = re.compile(r"^[-+−]?[\d,.]+%?[*†]?( ± [\d,.]+)?( \(n=\d+\))?$")


def html_page(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="summary">{html.escape(report.summary)} Made {_now()} by cifar-tui.</p>',
    ]
    for section in report.sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        parts += [f"<p>{html.escape(words)}</p>" for words in section.words]
        parts += [_html_table(table) for table in section.tables]
        if section.figures:
            parts.append('<div class="figures">')
            for drawn in section.figures:
                parts.append(
                    f'<figure id="figure-{html.escape(drawn.name)}">{_inline_svg(rendered(drawn.figure, "svg"))}'
                    f"<figcaption>{html.escape(drawn.caption)}</figcaption></figure>"
                )
            parts.append("</div>")
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=number' if _NUMBER.match(cell) else ''}>{html.escape(cell)}</td>" for cell in row)
        + "</tr>"
        for row in table.rows
    )
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}'


def _inline_svg(svg: bytes) -> str:
    """matplotlib's SVG document as an element of the page: without its XML prolog, its doctype
    and its RDF metadata (whose namespace URLs would read as links to be fetched)."""
    text = svg.decode("utf-8")
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg") :], count=1, flags=re.S)


def markdown_page(report: Report, folder: str) -> tuple[str, dict[str, bytes]]:
    """(the Markdown, {file name under folder: its SVG}); folder is the figures' folder as the
    page links it (relative to the page)."""
    lines = [f"# {_prose(report.title)}", "", f"{_prose(report.summary)} Made {_now()} by cifar-tui.", ""]
    files: dict[str, bytes] = {}
    for section in report.sections:
        lines += [f"## {_prose(section.title)}", ""]
        for words in section.words:
            lines += [_prose(words), ""]
        for table in section.tables:
            lines += _markdown_table(table)
        for drawn in section.figures:
            name = f"{drawn.name}.svg"
            files[name] = rendered(drawn.figure, "svg")
            lines += [f"![{_prose(drawn.caption)}](<{folder}/{name}>)", "", _prose(drawn.caption), ""]
    return "\n".join(lines), files


def _prose(text: str) -> str:
    """Our words, with whatever they quote (a run's name, a filter), as plain Markdown text."""
    return _MARKDOWN_PROSE.sub(r"\\\1", text)


def _markdown_table(table: Table) -> list[str]:
    lines = [
        "| " + " | ".join(markdown_text(h) for h in table.headers) + " |",
        "| " + " | ".join("---:" if _numeric_column(table, i) else "---" for i in range(len(table.headers))) + " |",
    ]
    lines += ["| " + " | ".join(markdown_text(cell) for cell in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", *(markdown_text(line) + "  " for line in table.note.splitlines())]
    return [*lines, ""]


def _numeric_column(table: Table, index: int) -> bool:
    cells = [row[index] for row in table.rows if row[index]]
    return bool(cells) and all(_NUMBER.match(cell) for cell in cells)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
