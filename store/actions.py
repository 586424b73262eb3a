"""What the command line and the app both do to runs, written once so that the two cannot drift:
each action checks what it is given, acts on the store and says in one line what became of it.
ActionError is the user's mistake, in one line: the command line exits 2 with it, the app shows it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..engine.config import ConfigError, RunConfig
from .export import FORMATS, HISTORY_KEYS, LOSS_KEYS, export, history_rows, robustness_table, table
from .run_filter import FilterError
from .runs import RESUMABLE, RunStore


class ActionError(ValueError):
    """A request that cannot be done as asked; the message says why, in one line."""


def existing_run(store: RunStore, run_id: int) -> dict[str, Any]:
    row = store.run(run_id)
    if row is None:
        raise ActionError(f"run_id: no run with id {run_id}; see `cifar-tui runs`")
    return row


def plural(count: int, word: str = "run") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# ------------------------------------------------------------------ annotations


def tag_runs(store: RunStore, run_ids: list[int], words: list[str]) -> dict[int, list[str]]:
    """Add (+name or name) and remove (-name) tags of runs; each run's tags after."""
    try:
        add, remove = store.tag_changes(words)
    except ValueError as problem:
        raise ActionError(f"tag: {problem}") from None
    for run_id in run_ids:
        existing_run(store, run_id)
    return {run_id: store.tag(run_id, add, remove) or [] for run_id in run_ids}


def tag_summary(words: list[str], count: int) -> str:
    add, remove = RunStore.tag_changes(words)
    return " ".join([*(f"+{t}" for t in add), *(f"-{t}" for t in remove)]) + f" on {plural(count)}"


def set_note(store: RunStore, run_id: int, text: str) -> str:
    existing_run(store, run_id)
    if problem := RunStore.note_problem(text):
        raise ActionError(f"note: {problem}")
    store.set_note(run_id, text)
    return f"run {run_id}: note {'set' if text else 'cleared'}"


def rename_run(store: RunStore, run_id: int, name: str) -> str:
    row = existing_run(store, run_id)
    try:
        RunConfig.from_dict({**row["config"], "name": name})  # a new run's rules for names
    except ConfigError as error:
        raise ActionError(str(error)) from None
    store.rename(run_id, name)
    return f"run {run_id}: renamed"


# ------------------------------------------------------------------ the queue and the runs' lives


def cancel_run(store: RunStore, run_id: int) -> Literal["cancelled", "asked"]:
    """A queued run is cancelled now; a running one's worker is asked to stop it (in any process)."""
    row = existing_run(store, run_id)
    if store.cancel_queued(run_id):
        return "cancelled"
    if store.request_cancel(run_id):
        return "asked"
    raise ActionError(f"run_id: run {run_id} is {row['status']}; only queued or running runs cancel")


def resumable_run(store: RunStore, run_id: int, checkpoint_dir: Path) -> dict[str, Any]:
    """The run, if it can continue from its checkpoint: checked before anything claims it, so that
    a refused resume leaves the run's status as it was (the checkpoint is only read, memory-mapped)."""
    from ..engine.checkpoint import CheckpointError, checkpoint_path, load_checkpoint

    row = existing_run(store, run_id)
    if row["status"] not in RESUMABLE:
        owner = f" by {row['worker']}" if row["status"] == "running" else ""
        raise ActionError(
            f"run_id: run {run_id} is {row['status']}{owner}; only interrupted, failed or cancelled runs resume"
        )
    config_json = RunConfig.from_dict(row["config"]).to_json()
    try:
        load_checkpoint(checkpoint_path(checkpoint_dir, run_id), "cpu", run_id, config_json, mmap=True)
    except CheckpointError as problem:
        raise ActionError(f"run {run_id} stays {row['status']}: {problem}") from None
    return row


def requeue_run(store: RunStore, run_id: int, checkpoint_dir: Path) -> str:
    """Queue a run again to continue from its checkpoint (a worker trains it)."""
    resumable_run(store, run_id, checkpoint_dir)
    if not store.requeue(run_id):
        raise ActionError(f"run {run_id} changed meanwhile; see `cifar-tui show {run_id}`")
    return f"run {run_id} queued to continue from its last checkpoint"


def delete_runs(store: RunStore, run_ids: list[int], checkpoint_dir: Path) -> list[int]:
    """Delete runs that are not running, with their epochs, losses and checkpoints; the ids deleted
    (a run that started running meanwhile is kept)."""
    deleted = []
    for run_id in run_ids:
        if store.delete(run_id):
            shutil.rmtree(checkpoint_dir / str(run_id), ignore_errors=True)
            deleted.append(run_id)
    return deleted


def remove_queued(store: RunStore, run_id: int, checkpoint_dir: Path) -> str:
    """Take a queued run (one that has not started) out of the queue for good."""
    row = existing_run(store, run_id)
    if row["status"] != "queued" or not store.cancel_queued(run_id):
        raise ActionError(f"run {run_id} is {row['status']}: only queued runs can be removed; cancel a running one")
    delete_runs(store, [run_id], checkpoint_dir)
    return f"run {run_id} removed from the queue"


# ------------------------------------------------------------------ exports

KINDS = {
    "runs": "one row per run",
    "groups": "one row per group: mean ± spread over seeds",
    "history": "one row per epoch (for tools)",
    "losses": "one row per step (for tools)",
    "robustness": "test acc., CIFAR-10.1 and its gap, CIFAR-10-C and its severities",
}
FOR_TOOLS_ONLY = ("history", "losses")  # rows too many and too raw for a table people read


@dataclass(frozen=True)
class ExportRequest:
    kind: str = "runs"  # one of KINDS
    fmt: str = "csv"  # one of FORMATS
    filter_text: str = ""
    sort: str = "-id"
    varying: bool = True  # only the config fields that differ among the runs
    target: float | None = None  # groups: the p-value of mean test acc. > target
    plus_minus: str = "std"  # a group's ± where people read it
    every: int = 1  # losses: every K-th step
    grouped: bool = False  # robustness: one row per group
    limit: int | None = None  # runs, groups: the first rows only


def export_rows(store: RunStore, request: ExportRequest) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of an export; ActionError for a request that does not fit together."""
    kind, fmt = request.kind, request.fmt
    if kind not in KINDS:
        raise ActionError(f"rows: unknown kind {kind!r}; one of {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise ActionError(f"format: unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if kind in FOR_TOOLS_ONLY and FORMATS[fmt].for_people:
        tools = ", ".join(f.name for f in FORMATS.values() if not f.for_people)
        raise ActionError(f"format: the {kind} is a table for tools; choose {tools}")
    if request.target is not None and kind == "runs":
        raise ActionError("target: a test over a group's runs; add --group")
    try:
        if kind == "robustness":
            return robustness_table(store, request.filter_text, request.sort, request.grouped)
        if kind in ("runs", "groups"):
            grouped = kind == "groups"
            return table(
                store, request.filter_text, request.sort, grouped, request.varying, request.limit, request.target
            )
        runs = store.find(request.filter_text, request.sort)
    except FilterError as error:
        raise ActionError(str(error)) from None
    if kind == "history":
        return list(HISTORY_KEYS), [row for run in runs for row in history_rows(run, store.epochs(run["id"]))]
    losses = [row for run in runs for row in store.losses_every(run["id"], request.every)]
    return list(LOSS_KEYS), [dict(zip(LOSS_KEYS, row)) for row in losses]


def export_text(store: RunStore, request: ExportRequest) -> tuple[str, int]:
    """(the export's text, its number of rows)."""
    columns, rows = export_rows(store, request)
    return export(rows, columns, request.fmt, request.plus_minus), len(rows)
