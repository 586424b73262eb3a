"""Stores as each older schema (m001 .. m016) left them, for the upgrade tests (tests/store/test_upgrades.py).

A store is built by the real migrations up to its version (sqlite-utils, not RunStore, so that no
newer one runs), then filled with plain SQL: every row is written in the columns that version's
tables have, so that one filler serves every version. What was written comes back as `Written`,
table -> key -> {column: value}, to compare with what today's code reads.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from cifar_tui.engine.config import make_config
from cifar_tui.store.groups import group_key
from cifar_tui.store.schema import MIGRATION_NAMES, migrations

VERSIONS = MIGRATION_NAMES[:-1]  # every schema a user's store may still be at
# The key of each table's rows in Written (sqlite_sequence has no primary key: its table's name).
KEYS = {
    "runs": ("id",),
    "epochs": ("run_id", "epoch"),
    "losses": ("run_id", "step"),
    "evaluations": ("run_id", "epoch", "label", "part"),
    "workers": ("name",),
    "studies": ("name",),
    "sqlite_sequence": ("name",),
}
# Config fields newer than a schema: a config that version wrote lacks them (m013 brought
# --eval-on, m016 rekeyed groups over deterministic and eval_on, m010 brought model files).
NEWER_FIELDS = {
    "model_source": "m010_model_files_and_partial_evaluation",
    "eval_on": "m013_held_out_evaluations",
    "deterministic": "m016_group_keys_over_changed_fields",
}
STEPS_PER_EPOCH = 10
CLASSES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DELETED_RUN = 9  # the newest run, deleted: its id must never come back (AUTOINCREMENT, from m004)
ENVIRONMENT = {"cuda": "12.4", "data_files": "a1b2c3", "python": "3.11.7", "torch": "2.4.0"}

Written = dict[str, dict[tuple, dict[str, Any]]]


def build_store(path: Path, version: str) -> Written:
    """A store at `version` (m001 .. m016) at path, filled; what was written, by table and key."""
    db = Database(path)
    db.execute("PRAGMA foreign_keys = ON")  # as RunStore writes: a child row without its run fails
    db.execute("PRAGMA synchronous = OFF")  # a test's file: no fsync at each migration's commit
    later = MIGRATION_NAMES[MIGRATION_NAMES.index(version) + 1]
    migrations.apply(db, stop_before=later)
    assert [m.name for m in migrations.applied(db)] == list(MIGRATION_NAMES[: MIGRATION_NAMES.index(version) + 1])
    written = fill(db, version)
    db.close()
    return written


def fill(db: Database, version: str) -> Written:
    """Runs of every status that version knows, with their epochs, losses and what else its tables hold."""
    written: Written = {}
    for run in runs(db, version):
        insert(db, written, "runs", run)
        for epoch in range(1, run["epochs_done"] + 1):
            insert(db, written, "epochs", epoch_row(run, epoch))
        for step in range(run["epochs_done"] * STEPS_PER_EPOCH + run["id"] % 3):  # a part epoch too
            loss = round(2.3 * 0.97**step + 0.01 * run["id"], 6)
            insert(
                db,
                written,
                "losses",
                {"run_id": run["id"], "step": step, "epoch": step // STEPS_PER_EPOCH + 1, "loss": loss},
            )
        if run["status"] == "finished":
            for epoch in range(1, run["epochs_done"] + 1):
                for row in evaluation_rows(run, epoch):
                    insert(db, written, "evaluations", row)
    insert(
        db,
        written,
        "workers",
        {"name": "gpu-box:4100", "paused": 1, "devices": '["cpu", "cuda:0"]', "pool": "gpu-box:4000"},
    )
    insert(db, written, "studies", study_row())
    if "sqlite_sequence" in db.table_names():  # AUTOINCREMENT: a deleted newest run's id stays spent
        db.execute("INSERT INTO runs (id, model, dataset, epochs, config, queue_pos, created_at) "
                   "VALUES (?, 'seed-cnn', 'synthetic', 1, '{}', 99, 'then')", [DELETED_RUN])  # fmt: skip
        db.execute("DELETE FROM runs WHERE id = ?", [DELETED_RUN])
        written["sqlite_sequence"] = {("runs",): {"name": "runs", "seq": DELETED_RUN}}
    db.conn.commit()
    return written


def insert(db: Database, written: Written, table: str, row: dict[str, Any]) -> None:
    """The row's values in the columns the table has at this version (none where it has no such table)."""
    if table not in db.table_names():
        return
    kept = {column: value for column, value in row.items() if column in db[table].columns_dict}
    marks = ", ".join("?" * len(kept))
    db.execute(f"INSERT INTO {table} ({', '.join(kept)}) VALUES ({marks})", list(kept.values()))
    written.setdefault(table, {})[tuple(kept[k] for k in KEYS[table])] = kept


def has(db: Database, table: str, column: str) -> bool:
    return table in db.table_names() and column in db[table].columns_dict


def runs(db: Database, version: str) -> list[dict[str, Any]]:
    """Every status of the version's CHECK: two seeds of one experiment (a sweep), a failure, a
    cancel, an interruption with a partial evaluation, a queued run, and from m014 a search's trials."""
    plans = [
        dict(
            status="finished", epochs_done=3, seed=0, sweep="s1", tags=["baseline", "keep"], note="first try, ünïcode ✓"
        ),
        dict(status="finished", epochs_done=3, seed=1, sweep="s1", tags=["baseline"], claim=2),
        dict(status="failed", epochs_done=1, lr=0.01, error="CUDA out of memory", error_detail="Traceback ...\nOOM"),
        dict(status="cancelled", epochs_done=2, lr=0.003, cancel_requested=1, pause_requested=1),
        dict(status="interrupted", epochs_done=1, optimizer="sgd", eval_images=5000, claim=3),
        dict(status="queued", epochs_done=0, batch_size=128, claim=0),
    ]
    if has(db, "runs", "trial"):  # m014: searches, and the status pruned
        plans += [
            dict(status="finished", epochs_done=2, lr=0.02, sweep="s2", trial=0, trial_attrs='{"rungs": [1, 2]}'),
            dict(
                status="pruned", epochs_done=1, lr=0.0002, sweep="s2", trial=1, trial_attrs='{"cifar-tui:pruned_at": 1}'
            ),
        ]
    return [run_row(version, run_id, plan) for run_id, plan in enumerate(plans, start=1)]


def run_row(version: str, run_id: int, plan: dict[str, Any]) -> dict[str, Any]:
    """A run as a worker of that version would have left it: today's columns, of which insert() keeps the version's."""
    status, done = plan["status"], plan["epochs_done"]
    fields = {"seed": plan.get("seed", 0), "lr": plan.get("lr", 0.001), "optimizer": plan.get("optimizer", "adam")}
    config = config_of(
        version,
        make_config(
            model="seed-cnn", dataset="synthetic", epochs=3, batch_size=plan.get("batch_size", 64), **fields
        ).to_dict(),
    )
    ran = status != "queued"
    acc = [round(40.0 + 10 * epoch + run_id * 0.37, 3) for epoch in range(1, done + 1)]
    return {
        "id": run_id,
        "name": f"run-{run_id}" if run_id % 2 else "",
        "status": status,
        "model": "seed-cnn",
        "dataset": "synthetic",
        "epochs": 3,
        "config": json.dumps(config, sort_keys=True),
        "queue_pos": float(run_id),
        "created_at": f"2024-05-0{run_id}T10:00:00.000+00:00",
        "started_at": f"2024-05-0{run_id}T10:00:05.000+00:00" if ran else None,
        "finished_at": f"2024-05-0{run_id}T10:09:00.000+00:00" if ran else None,
        "worker": "gpu-box:4100" if ran else None,
        "device": "cuda:0" if ran else None,
        "device_name": "NVIDIA H100" if ran else None,
        "params": 62006 + run_id if ran else None,
        "total_steps": 3 * STEPS_PER_EPOCH if ran else None,
        "epochs_done": done,
        "train_loss": round(1.5 - 0.2 * done, 4) if done else None,
        "test_loss": round(1.4 - 0.2 * done, 4) if done else None,
        "test_acc": acc[-1] if acc else None,
        "best_test_acc": max(acc) if acc else None,
        "images_per_s": 12000.5 + run_id if done else None,
        "seconds": 12.25 * done if done else None,
        "error": plan.get("error"),
        "heartbeat_at": f"2024-05-0{run_id}T10:08:59.000+00:00" if ran else None,
        "cancel_requested": plan.get("cancel_requested", 0),
        "pause_requested": plan.get("pause_requested", 0),
        "memory_used": 2**30 + run_id if ran else None,
        "memory_total": 80 * 2**30 if ran else None,
        "sweep": plan.get("sweep"),
        "group_key": group_key(config) if version == VERSIONS[-1] else old_group_key(config),
        "tags": json.dumps(plan.get("tags", [])),
        "note": plan.get("note", ""),
        "error_detail": plan.get("error_detail"),
        "eval_images": plan.get("eval_images", 0),
        "claim": plan.get("claim", 1),
        "classes": json.dumps(CLASSES) if run_id == 1 else None,
        "evals": json.dumps({"cifar10.1": {"acc": acc[-1] - 8.5, "gap": 8.5}}) if status == "finished" else None,
        "trial": plan.get("trial"),
        "trial_attrs": plan.get("trial_attrs"),
        "environment": json.dumps(ENVIRONMENT | {"seed": run_id}, sort_keys=True) if ran else None,
    }


def config_of(version: str, config: dict[str, Any]) -> dict[str, Any]:
    """Today's config less the fields that version did not know yet."""
    index = MIGRATION_NAMES.index(version)
    return {k: v for k, v in config.items() if k not in NEWER_FIELDS or MIGRATION_NAMES.index(NEWER_FIELDS[k]) <= index}


def old_group_key(config: dict[str, Any]) -> str:
    """The group key before m016: every field but seed and name (m016 rekeys it)."""
    whole = {k: v for k, v in config.items() if k not in ("seed", "name")}
    return hashlib.sha1(json.dumps(whole, sort_keys=True).encode()).hexdigest()[:16]


def epoch_row(run: dict[str, Any], epoch: int) -> dict[str, Any]:
    """An epoch's figures, every measure distinct from its column's default (a lost one shows)."""
    run_id, last = run["id"], epoch == run["epochs_done"]
    return {
        "run_id": run_id,
        "epoch": epoch,
        "step": epoch * STEPS_PER_EPOCH,
        "train_loss": round(1.5 - 0.2 * epoch + run_id / 1000, 6),
        "test_loss": round(1.4 - 0.2 * epoch + run_id / 1000, 6),
        "test_acc": round(40.0 + 10 * epoch + run_id * 0.37, 3),
        "class_acc": json.dumps([round(30.0 + c + epoch + run_id / 10, 2) for c in range(10)]),
        "seconds": 12.25,
        "images_per_s": 12000.5 + run_id,
        "memory_peak": 3 * 2**30 + epoch,
        "lr": 0.001 / epoch,
        "confusion": json.dumps([(row * 10 + col + epoch) % 97 for row in range(10) for col in range(10)]),
        "wrong_labels": json.dumps([3, 5, 1, 9]),
        "wrong_images": base64.b64encode(bytes(range(run_id, run_id + 48))).decode() if last else None,
        "eval_images": run.get("eval_images", 0),
    }


def evaluation_rows(run: dict[str, Any], epoch: int) -> list[dict[str, Any]]:
    base = {"run_id": run["id"], "epoch": epoch}
    return [
        base | {"label": "cifar10.1", "part": "", "images": 2000, "acc": 40.0 + epoch, "loss": 1.25 - epoch / 10},
        base | {"label": "cifar10-c", "part": "gaussian_noise:3", "images": 10000, "acc": 30.5 + epoch, "loss": 1.75},
    ]


def study_row() -> dict[str, Any]:
    return {
        "name": "s2",
        "search": "tpe",
        "trials": 4,
        "prune": "median",
        "objective": "test_acc",
        "parallel": 2,
        "seed": 7,
        "preset": None,
        "space": json.dumps({"lr": {"low": 0.0001, "high": 0.1}}),
        "fixed": json.dumps({"epochs": 3}),
        "created_at": "2024-05-07T09:00:00.000+00:00",
    }
