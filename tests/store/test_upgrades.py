"""Upgrades from every older schema (m001 .. m016, built by tests/store/old_stores.py): today's code
migrates each with every figure unchanged, and a kill -9 anywhere inside the upgrade leaves a
store that the next open migrates to the same result.

The kill lands on a pause point (engine/pause_points.py) that store/schema.py passes before each
statement of a migration and once after it, before it is recorded applied. Which migration and
which of its points are drawn at random, from SEED and the version (CIFAR_TUI_UPGRADE_SEED
draws others); a failure names both.
"""

import contextlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlite_utils import Database

from cifar_tui.engine.config import RunConfig
from cifar_tui.store import schema
from cifar_tui.store.columns import LISTS
from cifar_tui.store.epoch_row import parse_row
from cifar_tui.store.groups import group_key
from cifar_tui.store.run_records import RUN_COLUMNS
from cifar_tui.store.runs import RunStore
from cifar_tui.store.schema import MIGRATION_NAMES, migrations
from tests.helpers import wait_for
from tests.store.old_stores import DELETED_RUN, KEYS, VERSIONS, Written, build_store

SEED = int(os.environ.get("CIFAR_TUI_UPGRADE_SEED", "20240517"))
# Written by an old version, recomputed by a migration (m016 rekeys groups): checked against today's rule instead.
DERIVED = {"runs": {"group_key"}}
# The child opens the store as every command does; it imports no torch (tests/test_import_rules.py).
OPEN_STORE = "import sys; from cifar_tui.store.runs import RunStore; RunStore(sys.argv[1])"


@pytest.mark.parametrize("version", VERSIONS)
def test_an_old_store_upgrades_with_every_figure_unchanged(tmp_path, version):
    path = tmp_path / "runs.db"
    written = build_store(path, version)
    store = RunStore(path)
    check_upgraded(store, written)
    check_migrations_effects(store, written)
    store.close()


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_a_kill_9_inside_the_upgrade_leaves_a_store_the_next_open_upgrades_the_same(tmp_path, monkeypatch, version):
    old = tmp_path / "old.db"
    written = build_store(old, version)
    straight, killed = (Path(shutil.copy(old, tmp_path / name)) for name in ("straight.db", "killed.db"))
    points = []
    with monkeypatch.context() as patch:  # the uninterrupted upgrade, counting the points it passes
        patch.setattr(schema, "pause_point", points.append)
        RunStore(straight).close()
    point, nth = draw(points, version)
    where = f"killed at {point}:{nth} (seed {SEED}, from {version})"
    print(where)  # shown with any failure below, the reading checks' too

    kill_at(killed, f"{point}:{nth}", tmp_path / "pauses")
    left = dump(killed)
    assert left == dump(whole_migrations(old, left["applied"], tmp_path / "reference.db")), where

    store = RunStore(killed)
    check_upgraded(store, written)
    store.close()
    assert dump(killed) == dump(straight), where


def check_upgraded(store: RunStore, written: Written) -> None:
    """At today's schema, sound, and every figure written reads back unchanged, in SQL and through the reading API."""
    assert [m.name for m in migrations.applied(store.db)] == list(MIGRATION_NAMES)
    assert store.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert stored(store.db, written) == without_derived(written)
    check_reading(store, written)


def stored(db: Database, written: Written) -> Written:
    """The tables' rows now, in the columns that were written: a row lost or added, or a value changed, shows."""
    found: Written = {}
    for table, rows in without_derived(written).items():
        columns = next(iter(rows.values())).keys()
        found[table] = {
            tuple(row[k] for k in KEYS[table]): {c: row[c] for c in columns}
            for row in db.query(f"SELECT * FROM {table}")
        }
    return found


def without_derived(written: Written) -> Written:
    return {
        table: {key: {c: v for c, v in row.items() if c not in DERIVED.get(table, ())} for key, row in rows.items()}
        for table, rows in written.items()
    }


def check_reading(store: RunStore, written: Written) -> None:
    """What people see of each run (the run table, a run, its epochs and losses) is what was written."""
    runs = without_derived(written)["runs"]
    assert [row["id"] for row in store.runs()] == sorted((run_id for (run_id,) in runs), reverse=True)
    table = {row["id"]: row for row in store.runs()}
    for (run_id,), run in runs.items():
        assert {c: table[run_id][c] for c in run if c in RUN_COLUMNS} == as_read(run, RUN_COLUMNS)
        whole = store.run(run_id)
        assert {c: whole[c] for c in run} == as_read(run)
        assert whole["group_key"] == group_key(whole["config"])  # m007 keyed them, m016 rekeyed them
        RunConfig.from_dict(whole["config"])  # an older config, lacking newer fields, still reads
        epochs = [parse_row(dict(row)) for key, row in sorted(written["epochs"].items()) if key[0] == run_id]
        read = store.epochs(run_id)
        assert len(read) == len(epochs) and [{c: r[c] for c in e} for r, e in zip(read, epochs)] == epochs
        losses = [tuple(row.values()) for key, row in sorted(written["losses"].items()) if key[0] == run_id]
        assert store.losses_every(run_id) == [(r, s, e, loss) for r, s, e, loss in losses]
        assert store.loss_count(run_id) == len(losses)
    assert any(group["ids"] == [1, 2] for group in store.groups())  # two seeds of one experiment
    if "tags" in runs[(1,)]:
        assert [row["id"] for row in store.find("tag:keep")] == [1]
    if "studies" in written:
        [search] = store.studies()
        assert (search["name"], search["proposed"], search["finished"], search["pruned"]) == ("s2", 2, 1, 1)
        assert search["best_run"] == 7
    if "workers" in written:
        assert store.worker_paused("gpu-box:4100") and store.worker_devices("gpu-box:4100") == ["cpu", "cuda:0"]


def as_read(run: dict, columns=None) -> dict:
    """A written run as the reading API gives it back: its config and JSON lists parsed, empty where none was recorded."""
    parsed = {}
    for column, value in run.items():
        if columns is not None and column not in columns:
            continue
        if column == "config":
            value = json.loads(value)
        elif column in LISTS:
            value = json.loads(value) if value else LISTS[column]()
        parsed[column] = value
    return parsed


def check_migrations_effects(store: RunStore, written: Written) -> None:
    """What the migrations an old store lacked give it: claim tokens, defaults, the pruned status, unreused ids."""
    old_columns = next(iter(written["runs"].values())).keys()
    for run in store.runs():
        whole = store.run(run["id"])
        if "claim" not in old_columns:  # m011: every run that was ever claimed holds token 1
            assert whole["claim"] == (0 if whole["status"] == "queued" else 1)
        if "tags" not in old_columns:
            assert (whole["tags"], whole["note"], whole["sweep"]) == ([], "", None)
        assert whole["raw_test_acc"] is None
    store.db.execute("UPDATE runs SET status = 'pruned' WHERE id = 3")  # m014's CHECK
    newest = max(DELETED_RUN if "sqlite_sequence" in written else 0, *(run_id for (run_id,) in written["runs"]))
    assert store.enqueue({"model": "seed-cnn", "dataset": "synthetic", "epochs": 1}) == newest + 1


def draw(points: list[str], version: str) -> tuple[str, int]:
    """A migration the store lacked, and one of its points (the Nth time it is passed): at random, reproducibly."""
    pending = MIGRATION_NAMES[MIGRATION_NAMES.index(version) + 1 :]
    assert sorted(set(points)) == [f"migration-{name}" for name in pending]
    rng = random.Random(f"{SEED}-{version}")
    point = f"migration-{rng.choice(pending)}"
    return point, rng.randint(1, points.count(point))


def kill_at(path: Path, point: str, pauses: Path) -> None:
    """Open the store in a child process that stops at the pause point, then kill -9 it there."""
    pauses.mkdir()
    env = os.environ | {"CIFAR_TUI_PAUSE_AT": point, "CIFAR_TUI_PAUSE_DIR": str(pauses)}
    child = subprocess.Popen([sys.executable, "-c", OPEN_STORE, str(path)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: any(pauses.iterdir()) or child.poll() is not None, timeout=60)
        assert child.poll() is None, f"the upgrade never reached {point}: {child.communicate()[1]}"
    finally:
        child.kill()  # SIGKILL
        child.communicate()


def whole_migrations(old: Path, applied: list[str], path: Path) -> Path:
    """The old store with exactly these migrations applied, each whole: what a kill may leave behind."""
    assert applied == list(MIGRATION_NAMES[: len(applied)]), applied
    shutil.copy(old, path)
    db = Database(path)
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db, stop_before=MIGRATION_NAMES[len(applied) : len(applied) + 1])
    db.close()
    return path


def dump(path: Path) -> dict:
    """Everything a store holds, to compare two: its schema's SQL, every table's rows, the migrations applied."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        schema_rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        tables = [name for kind, name, _, _ in schema_rows if kind == "table" and name != "_sqlite_migrations"]
        rows = {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY {order(conn, table)}").fetchall() for table in tables
        }
        applied = [name for (name,) in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    return {"schema": schema_rows, "rows": rows, "applied": applied}


def order(conn: sqlite3.Connection, table: str) -> str:
    """Every column, in order: rows sort the same in both stores (losses has no rowid)."""
    return ", ".join(str(i) for i in range(1, len(conn.execute(f"PRAGMA table_info({table})").fetchall()) + 1))
