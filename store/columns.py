"""A run's columns, each declared once: what the store keeps about a run beside its config, and
how every table shows it. The run table's SELECT, the record that `runs --json`, `show --json`
and the exports carry, the filter language's fields, the recorder's summary at each epoch's end,
group statistics, headers, decimals and the partial-evaluation mark all derive from COLUMNS.

A new result column is one `Column` here, its migration (store/schema.py), and the engine code
that measures it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Column:
    name: str  # the key in records, tables and filters
    type: type  # int, float, str or list
    header: str = ""  # worded, with its unit (exports for people, the terminal tables); "" from the name
    short: str = ""  # a narrow table's header (the Runs tab); "" for the header
    decimals: int | None = None  # rounded to this many places where people read it
    source: str = ""  # the store's column, where it differs from the name
    result: bool = False  # measured by training (not the run's identity or bookkeeping)
    per_epoch: bool = False  # also a column of each epoch (history exports, run detail)
    partial: bool = False  # measured on the test set: marked when the evaluation saw part of it
    group: Literal["spread", "mean"] | None = None  # a group shows mean ± std, or the mean
    in_table: bool = True  # a column of the run table (runs, exports), besides the config's
    filter: bool = True  # filters and sorts may name it
    for_tools_only: bool = False  # in csv and json; shown to people another way (the mark)
    at_epoch_end: str = ""  # the recorder's SQL for it at each epoch's end (:name is the epoch's value)

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
        "test_acc", float, header="Test acc. (%)", short="acc %", decimals=2, result=True, per_epoch=True,
        partial=True, group="spread", at_epoch_end=":test_acc",
    ),
    Column(
        "best_test_acc", float, header="Best test acc. (%)", short="best %", decimals=2, result=True, partial=True,
        group="spread", at_epoch_end=_OVER_EPOCHS.format("max(test_acc)"),
    ),
    Column(
        "test_loss", float, header="Test loss", short="loss", decimals=4, result=True, per_epoch=True,
        partial=True, group="spread", at_epoch_end=":test_loss",
    ),
    Column("eval_images", int, result=True, filter=False, for_tools_only=True, at_epoch_end=":eval_images"),
    Column(
        "train_loss", float, header="Train loss", decimals=4, result=True, per_epoch=True, in_table=False,
        at_epoch_end=":train_loss",
    ),
    Column(
        "images_per_s", float, header="Images/s", short="img/s", decimals=0, result=True, per_epoch=True,
        group="mean", at_epoch_end=_OVER_EPOCHS.format("sum(images_per_s * seconds) / sum(seconds)"),
    ),
    Column(
        "seconds", float, header="Time (s)", short="time s", decimals=1, result=True, per_epoch=True,
        group="mean", at_epoch_end=_OVER_EPOCHS.format("sum(seconds)"),
    ),
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
PER_EPOCH = tuple(c.name for c in COLUMNS if c.per_epoch)
PARTIAL = tuple(c.name for c in COLUMNS if c.partial)
FOR_TOOLS_ONLY = tuple(c.name for c in COLUMNS if c.for_tools_only)
FILTER_FIELDS = {c.column: c.type for c in COLUMNS if c.filter}  # by the store's column: device is where it ran
STORED = tuple(c.column for c in COLUMNS)  # what the run table's SELECT reads
LISTS = {c.column: c.type for c in COLUMNS if c.type in (list, dict)}  # kept as JSON text


# Held-out sets' figures (--eval-on): LABEL_KEY, such as cifar10.1_acc, cifar10-c_s3, cinic-test_gap,
# read from the runs' `evals` JSON. Declared here once, by pattern: the sets are the user's.
EVAL_KEYS = ("acc", "gap", "loss", "s1", "s2", "s3", "s4", "s5")
EVAL_COLUMN = re.compile(rf"^([a-z0-9][a-z0-9.-]*)_({'|'.join(EVAL_KEYS)})$")
EVAL_DECIMALS = {"loss": 4}  # the rest are percentages or points: 2


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
