"""A run's columns, each declared once: what the store keeps about a run beside its config, and
how every table shows it. The run table's SELECT, the record that `runs --json`, `show --json`
and the exports carry, the filter language's fields, the recorder's summary at each epoch's end,
group statistics, headers, decimals and the partial-evaluation mark all derive from COLUMNS.
Each epoch's figures are EPOCH_MEASURES: Live's and the run detail's epoch tables, the headless
progress line and the objectives a search may optimise derive from them.

A new result column is one `Column` here, its migration (store/schema.py), and the engine code
that measures it; a new per-epoch measure is its EpochEnd field and one `EpochMeasure` (and a
`Column` where the run keeps its last value, as a search's objective needs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Column:
    name: str  # the key in records, tables and filters
    type: type  # int, float, str or list
    header: str = ""  # worded, with its unit (exports for people, the terminal tables); "" from the name
    short: str = ""  # a narrow table's header (the Runs tab); "" for the header
    decimals: int | None = None  # rounded to this many places where people read it
    source: str = ""  # the store's column, where it differs from the name
    result: bool = False  # measured by training (not the run's identity or bookkeeping)
    partial: bool = False  # measured on the test set: marked when the evaluation saw part of it
    group: Literal["spread", "mean"] | None = None  # a group shows mean ± std, or the mean
    in_table: bool = True  # a column of the run table (runs, exports), besides the config's
    filter: bool = True  # filters and sorts may name it
    for_tools_only: bool = False  # in csv and json; shown to people another way (the mark)
    at_epoch_end: str = ""  # the recorder's SQL for it at each epoch's end (:name is the epoch's value)
    sparse: bool = False  # recorded by few runs (raw_test_acc, with --ema): the Runs tab shows it when one has it
    better: Literal["maximize", "minimize"] | None = None  # a result's good direction (importance, Pareto fronts)

    @property
    def column(self) -> str:
        return self.source or self.name


_OVER_EPOCHS = "(SELECT {} FROM epochs WHERE run_id = runs.id)"

COLUMNS: tuple[Column, ...] = (
    Column("id", int, header="Run"),
    Column("name", str),
    Column("status", str),
    Column("sweep", str),
    Column("tags", list, filter=False),  # tag:NAME filters them
    Column("note", str, in_table=False),
    Column("model", str, in_table=False),  # config columns in a table
    Column("dataset", str, in_table=False),
    Column("epochs", int, in_table=False),
    Column("epochs_done", int, header="Epochs done", result=True, at_epoch_end=":epoch"),
    Column(
        "test_acc", float, header="Test acc. (%)", short="acc %", decimals=2, result=True,
        partial=True, group="spread", at_epoch_end=":test_acc", better="maximize",
    ),
    Column(
        "best_test_acc", float, header="Best test acc. (%)", short="best %", decimals=2, result=True, partial=True,
        group="spread", at_epoch_end=_OVER_EPOCHS.format("max(test_acc)"), better="maximize",
    ),
    Column(
        "test_loss", float, header="Test loss", short="loss", decimals=4, result=True,
        partial=True, group="spread", at_epoch_end=":test_loss", better="minimize",
    ),
    Column(
        "raw_test_acc", float, header="Raw model's test acc. (%)", short="raw %", decimals=2, result=True,
        partial=True, group="spread", sparse=True, at_epoch_end=":raw_test_acc", better="maximize",
    ),
    Column("eval_images", int, result=True, filter=False, for_tools_only=True, at_epoch_end=":eval_images"),
    Column(
        "train_loss", float, header="Train loss", decimals=4, result=True, in_table=False,
        at_epoch_end=":train_loss", better="minimize",
    ),
    Column(
        "images_per_s", float, header="Images/s", short="img/s", decimals=0, result=True,
        group="mean", at_epoch_end=_OVER_EPOCHS.format("sum(images_per_s * seconds) / sum(seconds)"), better="maximize",
    ),
    Column(
        "seconds", float, header="Time (s)", short="time s", decimals=1, result=True,
        group="mean", at_epoch_end=_OVER_EPOCHS.format("sum(seconds)"), better="minimize",
    ),
    Column(
        "params", int, header="Parameters", short="params", decimals=0, result=True, in_table=False,
        better="minimize",
    ),  # the model's trainable parameters, recorded when the run starts: a search may weigh them against accuracy
    Column("classes", list, in_table=False, filter=False),
    Column("evals", dict, in_table=False, filter=False),  # held-out sets' summaries; flat as LABEL_KEY columns  # the dataset's names in label order
    Column("environment", dict, in_table=False, filter=False),  # what it ran on; flat as env_ columns
    Column("trained_on", str, header="Trained on", source="device", in_table=False),
    Column("created_at", str, in_table=False),
    Column("error", str, filter=False),
)  # fmt: skip
BY_NAME = {c.name: c for c in COLUMNS}
HEADLINE = "best_test_acc"  # the result a run's title shows (run detail: "best 91.20%")

RESULTS = tuple(c.name for c in COLUMNS if c.result and c.in_table and not c.for_tools_only)  # people's results
MEASURES = tuple(c.name for c in COLUMNS if c.group == "spread")  # a group's mean ± std over finished runs
MEANS = tuple(c.name for c in COLUMNS if c.group == "mean")  # a group's mean
PARTIAL = tuple(c.name for c in COLUMNS if c.partial)
SPARSE = tuple(c.name for c in COLUMNS if c.sparse)
FOR_TOOLS_ONLY = tuple(c.name for c in COLUMNS if c.for_tools_only)
FILTER_FIELDS = {c.column: c.type for c in COLUMNS if c.filter}  # by the store's column: device is where it ran
STORED = tuple(c.column for c in COLUMNS)  # what the run table's SELECT reads
LISTS = {c.column: c.type for c in COLUMNS if c.type in (list, dict)}  # kept as JSON text


# ------------------------------------------------------------------ each epoch's measures


@dataclass(frozen=True)
class EpochMeasure:
    """A figure of each epoch (an EpochEnd field, a column of `epochs`): how the epoch tables (Live's,
    the run detail's) and the headless progress line show it, and whether a search may optimise it.
    Most are also a run's column (its last epoch's value); lr is not."""

    name: str  # EpochEnd's field and the epochs table's column
    header: str  # the epoch tables' header
    width: int  # Live's fixed column width
    unit: str = ""  # after a value in Live and the progress line ("61.50%"), in the detail's header ("test acc %")
    line: str = ""  # its words in the progress line, {} the value ("test acc {}"); "": not in the line
    spec: str = ""  # a value's format (".3g"); "": its run column's decimals
    blank_zero: bool = False  # 0 is "not recorded" (lr of an older row): a blank cell
    objective: Literal["maximize", "minimize"] | None = None  # a search may optimise it, in this direction
    shown_with: tuple[str, ...] = ()  # config fields: the epoch tables show it for runs where one is on

    def text(self, epoch: Any, unit: bool = True, mark: bool = True) -> str:
        """Its value in an epoch (an EpochEnd or a row of `epochs`), marked where the epoch's
        evaluation saw part of the test set."""
        value = _field(epoch, self.name)
        if value is None or self.blank_zero and not value:
            return ""
        mark = PARTIAL_MARK if mark and self.name in PARTIAL and _field(epoch, "eval_images") else ""
        return f"{value:{self.format}}{self.unit if unit else ''}{mark}"

    @property
    def format(self) -> str:
        if self.spec:
            return self.spec
        places = BY_NAME[self.name].decimals
        return ",.0f" if places == 0 else f".{places}f"  # a count (img/s) reads in thousands

    @property
    def header_with_unit(self) -> str:
        return f"{self.header} {self.unit}" if self.unit else self.header


def _field(epoch: Any, name: str) -> Any:
    return epoch.get(name) if isinstance(epoch, dict) else getattr(epoch, name, None)


PARTIAL_MARK = "*"  # what the tables mark a figure on part of the test set with (store/export.py too)

# In the epoch tables' order. A search reads an objective from the run's column and each epoch's.
EPOCH_MEASURES: tuple[EpochMeasure, ...] = (
    EpochMeasure("train_loss", "train loss", 10, line="train loss {}", objective="minimize"),
    EpochMeasure("test_loss", "test loss", 9, line="test loss {}", objective="minimize"),
    EpochMeasure("test_acc", "test acc", 8, unit="%", line="test acc {}", objective="maximize"),
    EpochMeasure("raw_test_acc", "raw acc", 8, unit="%", line="raw {}", shown_with=("ema", "swa_start")),
    EpochMeasure("lr", "lr", 8, spec=".3g", blank_zero=True),
    EpochMeasure("seconds", "time", 7, unit="s", line="{}"),
    EpochMeasure("images_per_s", "img/s", 7, line="{} img/s"),
)
# A search reads its objective from the run's column too (store/study.py), and optimises it the way it is better.
assert all(m.name in BY_NAME for m in EPOCH_MEASURES if m.objective), "an objective needs its run column"
assert all(BY_NAME[m.name].better == m.objective for m in EPOCH_MEASURES if m.objective), "one direction a measure"
# The run's columns measured each epoch too, in the run table's order (history exports, `show`).
PER_EPOCH = tuple(c.name for c in COLUMNS if c.name in {m.name for m in EPOCH_MEASURES})


def epoch_measures(config: Any) -> tuple[EpochMeasure, ...]:
    """The measures a run's epoch tables show (a config or its dict): raw acc only with an average."""
    return tuple(m for m in EPOCH_MEASURES if not m.shown_with or any(_field(config, f) for f in m.shown_with))


def progress_line(epoch: Any) -> str:
    """An epoch's figures in words, for the headless progress: "train loss 1.2345  ...  5,000 img/s";
    a measure the epoch has no value of (raw acc without --ema) is left out."""
    return "  ".join(m.line.format(text) for m in EPOCH_MEASURES if m.line and (text := m.text(epoch, mark=False)))


def objectives() -> dict[str, str]:
    """What a search may optimise, and which way, by name: read from EPOCH_MEASURES when asked."""
    return {m.name: m.objective for m in sorted(EPOCH_MEASURES, key=lambda m: m.name) if m.objective}


# Held-out sets' figures (--eval-on): LABEL_KEY, such as cifar10.1_acc, cifar10-c_s3, cinic-test_gap,
# read from the runs' `evals` JSON. Declared here once, by pattern: the sets are the user's.
EVAL_KEYS = ("acc", "gap", "loss", "s1", "s2", "s3", "s4", "s5")
EVAL_COLUMN = re.compile(rf"^([a-z0-9][a-z0-9.-]*)_({'|'.join(EVAL_KEYS)})$")
EVAL_DECIMALS = {"loss": 4}  # the rest are percentages or points: 2
EVAL_BETTER = {"gap": "minimize", "loss": "minimize"}  # the rest are accuracies


def eval_sql(column: str) -> str | None:
    """The SQL of a held-out set's figure (cifar10.1_acc), or None if the name is no such column."""
    match = EVAL_COLUMN.match(column)
    return f"json_extract(evals, '$.\"{match[1]}\".{match[2]}')" if match else None


EVAL_HEADERS = {"acc": ("acc. (%)", "%"), "gap": ("gap (points)", "gap"), "loss": ("loss", "loss")}


def eval_header(column: str, short: bool = False) -> str | None:
    """cifar10.1_acc: "cifar10.1 acc. (%)" (short: "cifar10.1 %"); cifar10-c_s3: "cifar10-c sev. 3 acc. (%)"."""
    match = EVAL_COLUMN.match(column)
    if not match:
        return None
    label, key = match[1], match[2]
    words = EVAL_HEADERS.get(key) or (f"sev. {key[1]} acc. (%)", f"s{key[1]} %")
    return f"{label} {words[1 if short else 0]}"


def eval_columns(evals: dict | None) -> dict[str, float]:
    """A run's held-out figures as flat columns, sets in name order, keys in EVAL_KEYS order."""
    return {
        f"{label}_{key}": figures[key]
        for label, figures in sorted((evals or {}).items())
        for key in EVAL_KEYS
        if key in figures
    }


def epoch_end_sql() -> str:
    """The recorder's summary of a run at each epoch's end, with the epoch's row as parameters."""
    sets = ", ".join(f"{c.column} = {c.at_epoch_end}" for c in COLUMNS if c.at_epoch_end)
    return f"UPDATE runs SET {sets} WHERE id = :run_id"


def better(column: str) -> Literal["maximize", "minimize"] | None:
    """Which way a result column is better (a run column's `better`, a held-out set's figure by
    its key); None for a column that is no result."""
    if column in BY_NAME:
        return BY_NAME[column].better
    match = EVAL_COLUMN.match(column)
    return EVAL_BETTER.get(match[2], "maximize") if match else None
