"""Tables out of the store: runs (with their config), groups (mean ± std over seeds), per-epoch
history and per-step losses, as csv, json, a Markdown table or a LaTeX (booktabs) tabular.

CSV and JSON carry raw values under the same keys as `runs --json` and `show --json`, for tools
(pandas reads them straight); Markdown and LaTeX are for people and papers: worded headers with
units, rounded numbers, and every character those languages would interpret escaped.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.cifar_classes import class_names
from ..engine.config import TYPED_FIELDS
from ..engine.environment import PREFIX as ENV_PREFIX
from ..engine.environment import environment_columns
from .columns import (
    COLUMNS,
    EVAL_COLUMN,
    EVAL_KEYS,
    FOR_TOOLS_ONLY,
    MEANS,
    MEASURES,
    PARTIAL,
    PER_EPOCH,
    eval_columns,
    eval_header,
)
from .confidence import p_above, summarize
from .ledger import recipe_preset

# A group's measure: its mean and sample std (people read "mean ± std"), its standard error and
# 95% confidence interval (store/confidence.py), for tools.
SPREAD = ("mean", "std", "sem", "ci_low", "ci_high")
SPREAD_DETAILS = ("_std", "_sem", "_ci_low", "_ci_high")
# What ± means in the tables people read (Markdown, LaTeX, the terminal), and its header's words.
PLUS_MINUS = {"std": "std", "sem": "s.e.", "ci": "95% CI"}
ENV_MARK = "†"  # a group whose finished runs ran in different environments (store/groups.py)
ENV_NOTE = "{mark} its finished runs ran in different environments; `cifar-tui show RUN` lists each run's"
RUN_KEYS = tuple(c.name for c in COLUMNS)  # a run's record: its columns (store/columns.py), then its config
TABLE_KEYS = tuple(c.name for c in COLUMNS if c.in_table)  # a run table's keys besides its config columns
HISTORY_KEYS = ("run_id", "epoch", "step", *PER_EPOCH, "memory_peak", "class_acc")
LOSS_KEYS = ("run_id", "step", "epoch", "loss")
# The robustness table a paper prints: the test accuracy, CIFAR-10.1 and its gap, CIFAR-10-C's mean
# and each severity's. Key: (held-out set, figure, header).
ROBUSTNESS = {
    "cifar10_1_acc": ("cifar10.1", "acc", "CIFAR-10.1 (%)"),
    "cifar10_1_gap": ("cifar10.1", "gap", "CIFAR-10.1 gap"),
    "cifar10_c_acc": ("cifar10-c", "acc", "CIFAR-10-C (%)"),
    **{f"cifar10_c_s{k}": ("cifar10-c", f"s{k}", f"C sev. {k} (%)") for k in range(1, 6)},
}
NUMERIC = (
    {c.name for c in COLUMNS if c.type in (int, float)}
    | {"run_id", "epoch", "step", "n", "runs", "pruned", "environments", "loss", "memory_peak", "test_acc_p_value"}
    | {f for f, kind in TYPED_FIELDS.items() if kind in (int, float)}
    | set(ROBUSTNESS)
)
_DECIMALS = {c.name: c.decimals for c in COLUMNS if c.decimals is not None} | {"loss": 4, "test_acc_p_value": 4}
_DECIMALS |= dict.fromkeys(ROBUSTNESS, 2)
HEADERS = {c.name: c.header for c in COLUMNS if c.header} | {
    "run_id": "Run",
    "memory_peak": "Peak memory (bytes)",
    "lr": "LR",
    "lr_schedule": "LR schedule",
    "n": "n",
    "runs": "Runs",
    "pruned": "Pruned",
    "test_acc_p_value": "p (test acc. > target)",
    **{key: words for key, (_, _, words) in ROBUSTNESS.items()},
}


# Test figures of a run whose evaluation was limited (--limit-eval-batches) cover part of the test
# set: people see them marked, tools get eval_images (0: the whole test set).
PARTIAL_MARK = "*"
PARTIAL_NOTE = "* on part of the test set (--limit-eval-batches)"
PARTIAL_COLUMNS = PARTIAL
MACHINE_ONLY = FOR_TOOLS_ONLY  # in csv and json; shown to people as the mark


def partial_mark(column: str, row: dict[str, Any]) -> str:
    return PARTIAL_MARK if column in PARTIAL_COLUMNS and row.get("eval_images") else ""


def any_partial(rows: list[dict[str, Any]]) -> bool:
    return any(row.get("eval_images") for row in rows)


PEOPLE_EVAL_KEYS = ("acc", "gap")  # a held-out set's figures in tables people read


def decimals_of(column: str) -> int | None:
    """The places a column is rounded to where people read it; held-out sets' by their key."""
    if column in _DECIMALS:
        return _DECIMALS[column]
    match = EVAL_COLUMN.match(column)
    return (4 if match[2] == "loss" else 2) if match else None


def is_number(column: str) -> bool:
    return column in NUMERIC or EVAL_COLUMN.match(column) is not None


def format_value(column: str, value: Any) -> str:
    """How a value reads on screen: rounded numbers (thousands separated), blanks for nothing."""
    if value is None:
        return ""
    places = decimals_of(column)
    if places is not None and isinstance(value, (int, float)):
        return f"{value:,.0f}" if places == 0 else f"{value:.{places}f}"  # a count (img/s) reads in thousands
    return str(value)


def header(column: str) -> str:
    return HEADERS.get(column) or eval_header(column) or column.replace("_", " ").capitalize()


# ------------------------------------------------------------------ what goes in a table


def run_record(row: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """A run as every tool sees it (runs --json, show --json, exports): its columns, then its
    config's fields under their own names."""
    record = {c.name: row.get(c.column) for c in COLUMNS}
    record.update(eval_columns(record.get("evals")))
    record.update(environment_columns(record.get("environment")))
    record.update({key: value for key, value in config.items() if key not in record})
    return record


def _with_held_out_of_groups(columns: list[str], rows: list[dict[str, Any]], held_out: dict[str, list[dict]]):
    """Each group's held-out accuracy and gap as mean ± std over its finished runs that have them."""
    if not held_out:
        return columns, rows
    added: dict[str, None] = {}
    for row in rows:
        figures: dict[str, list[float]] = {}
        for evals in held_out.get(row["group_key"], []):
            for column, value in eval_columns(evals).items():
                if EVAL_COLUMN.match(column)[2] in PEOPLE_EVAL_KEYS:
                    figures.setdefault(column, []).append(value)
        for column, values in figures.items():
            row.update({f"{column}_{key}": value for key, value in summarize(values).items()})
            added[column] = None
    ordered = sorted(added, key=lambda k: (k.rsplit("_", 1)[0], EVAL_KEYS.index(k.rsplit("_", 1)[1])))
    return columns + [f"{c}_{s}" for c in ordered for s in SPREAD], rows


def history_rows(run: dict[str, Any], epochs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's epochs as the history export and `show --json` carry them: the per-class accuracy
    keyed by class name, in label order."""
    rows = []
    for epoch in epochs:
        acc = epoch.get("class_acc") or []
        names = class_names(run.get("classes"), len(acc))
        rows.append({"run_id": run["id"], **epoch, "class_acc": dict(zip(names, acc))})
    return rows


def run_table(records: list[dict[str, Any]], config_columns: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of a run table: id, name and status, the config columns, the results."""
    columns = ["id", "name", "status", *config_columns, *[k for k in TABLE_KEYS if k not in ("id", "name", "status")]]
    held_out = {key: None for record in records for key in eval_columns(record.get("evals"))}
    held_out_columns = sorted(held_out, key=lambda k: (k.rsplit("_", 1)[0], EVAL_KEYS.index(k.rsplit("_", 1)[1])))
    at = columns.index("error") if "error" in columns else len(columns)
    environment = list(dict.fromkeys(key for record in records for key in record if key.startswith(ENV_PREFIX)))
    return columns[:at] + held_out_columns + columns[at:] + environment, records


_REFERENCES: dict[str, str | None] = {}  # by group key: one config stands for all its group's runs


def group_reference(group: dict[str, Any]) -> str | None:
    """The preset whose recipe the group's runs are (store/ledger.py), looked up once a group."""
    key = group["group_key"]
    if key not in _REFERENCES:
        _REFERENCES[key] = recipe_preset(group["config"])
    return _REFERENCES[key]


def group_table(groups: list[dict[str, Any]], config_columns: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of a group table: the config that the group shares, n, and per measure a
    mean and a std (shown as mean ± std where people read it)."""
    pruned = ["pruned"] if any(g.get("pruned") for g in groups) else []  # a search's groups: its stopped trials
    columns = [
        *config_columns,
        "n",
        "runs",
        *pruned,
        *(f"{m}_{s}" for m in MEASURES for s in SPREAD),
        *MEANS,
        "environments",
    ]
    rows = [
        {
            **{c: g["config"].get(c) for c in config_columns},
            **{k: g.get(k) for k in columns[len(config_columns) :]},
            **{k: g[k] for k in ("id", "ids", "sweep", "group_key")},  # not columns: what opens the group's runs
            "reference": group_reference(g),  # not a column: the preset whose published figure it has
            "data_files": g.get("data_files"),  # its first run's (engine/environment.py)
            **{f"{m}_n": g.get(f"{m}_n") for m in MEASURES},
        }
        for g in groups
    ]
    return columns, rows


def table(
    store,
    filter_text: str = "",
    sort: str = "-id",
    grouped: bool = False,
    varying: bool = True,
    limit: int | None = None,
    target: float | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of the run table or the group table of the runs a filter keeps, with every
    config column or only those that vary; raises FilterError for a filter it cannot read."""
    config_columns = store.varying_fields(filter_text) if varying else [f for f in TYPED_FIELDS if f != "name"]
    config_columns = [c for c in config_columns if c != "name"]
    if grouped:
        columns, rows = group_table(store.groups(filter_text, sort, limit), [c for c in config_columns if c != "seed"])
        if target is not None:  # a claim's test: is the group's mean test accuracy above the target?
            at = columns.index("test_acc_ci_high") + 1
            columns.insert(at, "test_acc_p_value")
            for row in rows:
                row["test_acc_p_value"] = p_above(row["test_acc_mean"], row["test_acc_std"], row["test_acc_n"], target)
                row["target"] = target  # not a column: the p-value's header names it
        return _with_held_out_of_groups(columns, rows, store.held_out_of_groups(filter_text))
    rows = store.find(filter_text, sort, limit)
    configs = store.configs([r["id"] for r in rows]) if rows else {}
    return run_table([run_record(r, configs.get(r["id"], {})) for r in rows], config_columns)


def robustness_table(store, filter_text: str = "", sort: str = "-id", grouped: bool = False):
    """(columns, rows) of the robustness table of the runs a filter keeps, or of their groups
    (mean ± std over each group's finished runs, n the runs with a test accuracy)."""
    figures = ["test_acc", *ROBUSTNESS]
    columns, rows = table(store, filter_text, sort, grouped, varying=True)
    if not grouped:
        config = [c for c in columns if c in TYPED_FIELDS and c not in ("seed", "name")]
        return ["id", "name", *config, *figures], [{**row, **_robustness(row)} for row in rows]
    config = columns[: columns.index("n")]
    runs = {r["id"]: r for r in store.find(f"id={','.join(str(i) for g in rows for i in g['ids'])}")} if rows else {}
    out = []
    for group in rows:
        members = [_robustness(runs[i]) for i in group["ids"] if i in runs and runs[i]["status"] == "finished"]
        row = {**{c: group.get(c) for c in config}, "n": sum(m["test_acc"] is not None for m in members)}
        for key in figures:
            values = [m[key] for m in members if m[key] is not None]
            row.update({f"{key}_{s}": value for s, value in summarize(values).items()})
        out.append(row)
    return [*config, "n", *(f"{k}_{s}" for k in figures for s in SPREAD)], out


def _robustness(run: dict[str, Any]) -> dict[str, Any]:
    evals = run.get("evals") or {}
    return {"test_acc": run.get("test_acc")} | {
        key: (evals.get(label) or {}).get(figure) for key, (label, figure, _) in ROBUSTNESS.items()
    }


# ------------------------------------------------------------------ formats


@dataclass(frozen=True)
class ExportFormat:
    name: str
    extension: str  # a file's, without the dot
    write: Callable[..., str]  # (rows, columns, plus_minus) -> text
    for_people: bool  # Markdown, LaTeX: worded headers, rounded numbers, ± cells


def export(rows: list[dict[str, Any]], columns: list[str], fmt: str, plus_minus: str = "std") -> str:
    """The table as text; plus_minus: what a group's ± is where people read it (PLUS_MINUS)."""
    if fmt not in FORMATS:
        raise ValueError(f"format: unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if plus_minus not in PLUS_MINUS:
        raise ValueError(f"plus_minus: {plus_minus!r} is not one of {', '.join(PLUS_MINUS)}")
    return FORMATS[fmt].write(rows, list(columns), plus_minus)


def _csv(rows: list[dict[str, Any]], columns: list[str], plus_minus: str = "std") -> str:
    out = io.StringIO()
    # RFC 4180's CRLF: the writer then quotes a field holding either \r or \n, so a name with a
    # carriage return reads back whole (with "\n" alone, a lone \r went out unquoted).
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _flat(row.get(c)) for c in columns})
    return out.getvalue()


def _flat(value: Any) -> Any:
    """A list (tags) as one CSV cell, its items joined by spaces; a mapping (per-class accuracy
    by class name, where names may hold spaces) as JSON."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def _json(rows: list[dict[str, Any]], columns: list[str], plus_minus: str = "std") -> str:
    return json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=2, ensure_ascii=False) + "\n"


def people_cells(
    row: dict[str, Any],
    columns: list[str],
    escape: Callable[[str], str],
    sign: str,
    plus_minus: str = "std",
    env_mark: str = ENV_MARK,
) -> list[str]:
    """The shown cells, escaped: a mean and its spread become one 'mean ± spread' cell (sign the
    format's ±, plus_minus which spread: PLUS_MINUS); a group whose runs' environments differ has
    env_mark after its n."""
    cells = []
    for column in columns:
        if spread_detail(column):
            continue
        if column.endswith("_mean"):
            measure = column[: -len("_mean")]
            mean, spread = row.get(column), spread_of(row, measure, plus_minus)
            text = escape(_number(measure, mean))
            if mean is not None and spread is not None:
                text += f" {sign} {escape(_number(measure, spread))}"
            cells.append(text)
        elif column not in MACHINE_ONLY and for_people(column):
            value = row.get(column)
            text = _number(column, value) if is_number(column) else _text(value)
            text = escape(text + (partial_mark(column, row) if text else ""))
            cells.append(text + (env_mark if column == "n" and mixed_environments(row) else ""))
    return cells


def spread_of(row: dict[str, Any], measure: str, plus_minus: str) -> float | None:
    """A group's std, standard error or 95% CI half-width of a measure (None below two runs)."""
    if plus_minus == "ci":
        low, high = row.get(f"{measure}_ci_low"), row.get(f"{measure}_ci_high")
        return (high - low) / 2 if low is not None and high is not None else None
    return row.get(f"{measure}_{plus_minus}")


def mixed_environments(row: dict[str, Any]) -> bool:
    return (row.get("environments") or 0) > 1


def people_headers(columns: list[str], plus_minus: str = "std", rows: list[dict[str, Any]] = ()) -> list[str]:
    """The worded headers of the shown columns; a group's measure says what its ± is, the
    p-value of --target which target it tests."""
    target = next((row["target"] for row in rows if row.get("target") is not None), None)

    def worded(column: str) -> str:
        if column.endswith("_mean"):
            return header(column[: -len("_mean")]) + f" (mean ± {PLUS_MINUS[plus_minus]})"
        if column == "test_acc_p_value" and target is not None:
            return f"p (test acc. > {target:g})"
        return header(column)

    return [worded(c) for c in columns if not spread_detail(c) and c not in MACHINE_ONLY and for_people(c)]


def spread_detail(column: str) -> bool:
    """A group's std, standard error or interval bound: for tools; people read mean ± std."""
    return column.endswith(SPREAD_DETAILS)


def shown_columns(columns: list[str]) -> list[str]:
    """The columns people see: a measure's mean and std share one; of a held-out set, its accuracy
    and gap (the rest are for tools, and the robustness table)."""
    return [
        c[: -len("_mean")] if c.endswith("_mean") else c
        for c in columns
        if not spread_detail(c) and c not in MACHINE_ONLY and for_people(c)
    ]


def for_people(column: str) -> bool:
    if column.startswith(ENV_PREFIX) or column == "environments":  # for tools; people read a mark, or show
        return False
    match = EVAL_COLUMN.match(column)
    return match is None or column in NUMERIC or match[2] in PEOPLE_EVAL_KEYS


def _number(column: str, value: Any) -> str:
    if value is None:
        return ""
    places = decimals_of(column)
    if places is not None and isinstance(value, (int, float)):
        return f"{value:.{places}f}"  # no thousands separator: a number stays one number
    return f"{value:g}" if isinstance(value, float) else str(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value).replace("\r", " ").replace("\n", " ")


# CommonMark lets a backslash escape any ASCII punctuation, and only then is it literal: every
# one is escaped (a plain number's own excepted, for readable source), so no name becomes
# emphasis, a link, code, raw HTML or a cell border.
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?")


def markdown_text(text: str) -> str:
    """Each word escaped, but a number (94.01, 94.01*, 94.01 ± 0.12) reads as typed, its mark escaped."""
    return re.sub(r"\S+", lambda word: _markdown_word(word[0]), text)


def _markdown_word(word: str) -> str:
    number, mark = (word[:-1], word[-1]) if word.endswith(PARTIAL_MARK) else (word, "")
    if _PLAIN_NUMBER.fullmatch(number):
        return number + _MARKDOWN_SPECIAL.sub(r"\\\1", mark)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", word)


def _markdown(rows: list[dict[str, Any]], columns: list[str], plus_minus: str = "std") -> str:
    shown = shown_columns(columns)
    lines = [
        "| " + " | ".join(people_headers(columns, plus_minus, rows)) + " |",  # our own words: nothing to escape
        "| " + " | ".join("---:" if is_number(c) else "---" for c in shown) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(people_cells(row, columns, markdown_text, "±", plus_minus)) + " |")
    notes = [markdown_text(PARTIAL_NOTE)] if any_partial(rows) else []
    notes += [ENV_NOTE.format(mark=ENV_MARK)] if any(map(mixed_environments, rows)) else []  # our words: as typed
    if notes:
        lines += ["", *(note + "  " for note in notes)]  # two spaces: a line break
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
    "<": r"\textless{}",  # under the default OT1 encoding these three print as other glyphs
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "`": r"\textasciigrave{}",
}


def latex_text(text: str) -> str:
    """Text that pdflatex prints as written under its default setup. Characters beyond Latin-1
    (which plain LaTeX has no glyph for) are written as their code point, [U+1F600]."""
    return "".join(
        _LATEX_SPECIAL.get(ch, ch) if ord(ch) <= 0xFF else f"[U+{ord(ch):04X}]"
        for ch in text
        if ch.isprintable() or ch == " "
    )


LATEX_ENV_MARK = "$^\\dagger$"


def _latex(rows: list[dict[str, Any]], columns: list[str], plus_minus: str = "std") -> str:
    shown = shown_columns(columns)
    headers = [latex_text(h).replace("±", "$\\pm$") for h in people_headers(columns, plus_minus, rows)]
    lines = [
        "% needs \\usepackage{booktabs}",
        f"\\begin{{tabular}}{{{''.join('r' if is_number(c) else 'l' for c in shown)}}}",
        "\\toprule",
        " & ".join(headers) + " \\\\",
        "\\midrule",
    ]
    for row in rows:
        lines.append(" & ".join(people_cells(row, columns, latex_text, "$\\pm$", plus_minus, LATEX_ENV_MARK)) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if any_partial(rows):
        lines.append(f"% {PARTIAL_NOTE}")
    if any(map(mixed_environments, rows)):
        lines.append("% " + ENV_NOTE.format(mark=LATEX_ENV_MARK))
    return "\n".join(lines) + "\n"


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("csv", "csv", _csv, for_people=False),
        ExportFormat("json", "json", _json, for_people=False),
        ExportFormat("md", "md", _markdown, for_people=True),
        ExportFormat("latex", "tex", _latex, for_people=True),
    )
}
