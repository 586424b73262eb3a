
import pytest

from store.runs import RunStore, StoreError


def test_schema_is_what_we_declare():
    store = RunStore()
    assert store.db.table_names() == ["_sqlite_migrations", "runs", "epochs", "losses"]
    assert [c.name for c in store.db["losses"].columns] == ["run_id", "step", "epoch", "loss"]
    assert store.db["losses"].pks == ["run_id", "step"]
    assert store.db["epochs"].pks == ["run_id", "epoch"]
    fks = {(fk.table, fk.column, fk.other_table) for fk in store.db["losses"].foreign_keys}
    assert fks == {("losses", "run_id", "runs")}
    assert "ON DELETE CASCADE" in store.db["losses"].schema
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
    assert again.db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 3
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
        {"migration_set": "cifar-tui", "name": "m999_from_the_future", "applied_at": "2030"})
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer cifar-tui"):
        RunStore(path)
    assert path.read_bytes() == before
