import pytest

from cifar_tui.store.runs import RunStore, StoreError
from cifar_tui.store.schema import MIGRATION_NAMES

CONFIG = {"model": "seed-cnn", "dataset": "synthetic", "epochs": 1}


def test_schema_is_what_we_declare():
    store = RunStore()
    assert store.db.table_names() == [
        "_sqlite_migrations", "sqlite_sequence", "workers", "studies", "runs", "epochs", "losses", "evaluations",
    ]  # fmt: skip
    assert "id INTEGER PRIMARY KEY AUTOINCREMENT" in store.db["runs"].schema
    assert [c.name for c in store.db["losses"].columns] == ["run_id", "step", "epoch", "loss"]
    assert store.db["losses"].pks == ["run_id", "step"]
    assert store.db["epochs"].pks == ["run_id", "epoch"]
    fks = {(fk.table, fk.column, fk.other_table) for fk in store.db["losses"].foreign_keys}
    assert fks == {("losses", "run_id", "runs")}
    assert "ON DELETE CASCADE" in store.db["losses"].schema and "ON DELETE CASCADE" in store.db["evaluations"].schema
    assert store.db["evaluations"].pks == ["run_id", "epoch", "label", "part"]
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_file_store_uses_wal_and_normal_sync(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_migrations_are_idempotent(tmp_path):
    path = tmp_path / "runs.db"
    first = RunStore(path)
    run_id = first.enqueue({"model": "seed-cnn", "dataset": "synthetic", "epochs": 1})
    first.close()
    again = RunStore(path)
    assert again.db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(MIGRATION_NAMES)
    assert [r["id"] for r in again.runs()] == [run_id]


def test_a_file_that_is_not_a_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "runs.db"
    content = b"these are my notes, not a database\n" * 100
    path.write_bytes(content)
    with pytest.raises(StoreError, match="is not a cifar-tui database"):
        RunStore(path)
    assert path.read_bytes() == content


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "runs.db"
    RunStore(path).db["_sqlite_migrations"].insert(
        {"migration_set": "cifar-tui", "name": "m999_from_the_future", "applied_at": "2030"}
    )
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer cifar-tui"):
        RunStore(path)
    assert path.read_bytes() == before


def test_a_deleted_runs_id_is_never_given_again():
    store = RunStore()
    first, newest = store.enqueue(CONFIG), store.enqueue(CONFIG)
    assert store.delete(newest)
    assert store.enqueue(CONFIG) == newest + 1
    assert [r["id"] for r in store.runs()] == [newest + 1, first]


def test_an_older_store_keeps_its_runs_epochs_and_losses_through_the_id_migration(tmp_path):
    from sqlite_utils import Database

    from cifar_tui.store.schema import migrations

    path = tmp_path / "runs.db"
    db = Database(path)
    migrations.apply(db, stop_before="m004_run_ids_never_reused")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(
        "INSERT INTO runs (id, name, model, dataset, epochs, config, queue_pos, created_at) "
        "VALUES (5, 'old', 'seed-cnn', 'synthetic', 1, '{}', 1, 'then')"
    )
    db.execute("INSERT INTO epochs (run_id, epoch, step) VALUES (5, 1, 3)")
    db.conn.executemany("INSERT INTO losses VALUES (5, ?, 1, 0.5)", [(s,) for s in range(3)])
    db.conn.commit()
    db.close()
    store = RunStore(path)
    assert store.run(5)["name"] == "old" and store.loss_count(5) == 3 and len(store.epochs(5)) == 1
    assert store.enqueue(CONFIG) == 6
    assert store.delete(5) and store.loss_count(5) == 0  # the cascade still works after the rebuild
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_an_older_store_gains_the_pruned_status_and_keeps_everything(tmp_path):
    import sqlite3

    from sqlite_utils import Database

    from cifar_tui.store.schema import migrations

    path = tmp_path / "runs.db"
    db = Database(path)
    migrations.apply(db, stop_before="m014_searches")
    db.execute("PRAGMA foreign_keys = ON")
    for run_id in (1, 2, 3):
        db.execute(
            "INSERT INTO runs (id, name, model, dataset, epochs, config, queue_pos, created_at, status, evals) "
            "VALUES (?, 'old', 'seed-cnn', 'synthetic', 1, '{}', ?, 'then', 'finished', '{\"cifar10.1\": {}}')",
            [run_id, run_id],
        )
    db.execute("INSERT INTO epochs (run_id, epoch, step) VALUES (2, 1, 3)")
    db.conn.executemany("INSERT INTO losses VALUES (2, ?, 1, 0.5)", [(s,) for s in range(3)])
    db.execute("INSERT INTO evaluations VALUES (2, 1, 'cifar10.1', '', 2000, 80.0, 0.6)")
    db.execute("DELETE FROM runs WHERE id = 3")  # the newest run's id must never come back
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE runs SET status = 'pruned' WHERE id = 1")
    db.conn.commit()
    db.close()

    store = RunStore(path)
    assert store.run(2)["evals"] == {"cifar10.1": {}} and store.loss_count(2) == 3 and len(store.epochs(2)) == 1
    assert store.db.execute("SELECT count(*) FROM evaluations").fetchone()[0] == 1
    store.db.execute("UPDATE runs SET status = 'pruned' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute("UPDATE runs SET status = 'bogus' WHERE id = 1")
    assert store.enqueue(CONFIG) == 4
    indexes = {row[0] for row in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"runs_status_queue", "runs_finished_at", "runs_group_key", "runs_sweep", "runs_trials"} <= indexes
    assert store.delete(2) and store.loss_count(2) == 0  # the children still cascade
    assert store.db.execute("SELECT count(*) FROM evaluations").fetchone()[0] == 0
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []


OPENER = """
import sys, time
from cifar_tui.store.runs import RunStore
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
store = RunStore(sys.argv[1])
store.enqueue({"model": "seed-cnn", "dataset": "synthetic", "epochs": 1})
"""


@pytest.mark.slow
def test_twenty_processes_opening_a_new_home_at_once_all_succeed(tmp_path):
    import subprocess
    import sys
    import time

    path = tmp_path / "new-home" / "runs.db"
    start = time.time() + 3  # every process imports first, then all open at the same moment
    procs = [
        subprocess.Popen([sys.executable, "-c", OPENER, str(path), str(start)], stderr=subprocess.PIPE, text=True)
        for _ in range(20)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [e for e in errors if e][:1]
    store = RunStore(path)
    assert len(store.runs()) == 20
    assert store.db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(MIGRATION_NAMES)


def test_a_result_column_is_declared_once():
    """best_test_acc is named by its declaration (store/columns.py) and its migration
    (store/schema.py); every list of columns (filters, tables, exports, groups, the recorder's summary) derives from COLUMNS."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    naming = sorted(
        str(path.relative_to(root))
        for layer in ("engine", "store", "tui")
        for path in (root / layer).rglob("*.py")
        if "best_test_acc" in path.read_text()
    )
    assert naming == ["store/columns.py", "store/schema.py"]


def test_runs_recorded_before_a_config_field_existed_group_with_newer_runs_at_its_default(tmp_path):
    import hashlib
    import json

    from sqlite_utils import Database

    from cifar_tui.engine.config import make_config
    from cifar_tui.store.schema import migrations

    new = make_config(dataset="synthetic", epochs=1).to_dict()
    old = {k: v for k, v in new.items() if k not in ("deterministic", "eval_on")}  # before those fields
    path = tmp_path / "runs.db"
    db = Database(path)
    migrations.apply(db, stop_before="m016_group_keys_over_changed_fields")
    for run_id, config in enumerate([old, old | {"seed": 1}], start=1):
        whole = {k: v for k, v in config.items() if k not in ("seed", "name")}  # the old key: every field
        key = hashlib.sha1(json.dumps(whole, sort_keys=True).encode()).hexdigest()[:16]
        db.execute(
            "INSERT INTO runs (id, model, dataset, epochs, config, queue_pos, created_at, status, group_key) "
            "VALUES (?, 'seed-cnn', 'synthetic', 1, ?, ?, 'then', 'finished', ?)",
            [run_id, json.dumps(config), run_id, key],
        )
    db.conn.commit()
    db.close()
    store = RunStore(path)
    store.enqueue(new | {"seed": 2})
    store.enqueue(new | {"seed": 3, "deterministic": True})  # another experiment
    groups = sorted(sorted(g["ids"]) for g in store.groups())
    assert groups == [[1, 2, 3], [4]]
