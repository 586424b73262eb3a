"""The database schema, as sqlite-utils migrations applied when a store opens."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable

from sqlite_utils import Database, Migrations

from ..engine.pause_points import pause_point

STATUSES = ("queued", "running", "finished", "failed", "cancelled", "interrupted", "pruned")
FIRST_STATUSES = STATUSES[:6]  # m001's CHECK; m014 added pruned


class _PausableMigrations(Migrations):
    """Migrations whose every SQL statement (db.execute, db.query) passes a pause point named after
    the migration, and once more when it is done, before sqlite-utils records it applied: the
    upgrade tests (tests/store/test_upgrades.py) kill -9 an upgrade there. Unset, a point costs
    one lookup (engine/pause_points.py)."""

    def __call__(self, *, name: str | None = None, transactional: bool = True) -> Callable:
        register = super().__call__(name=name, transactional=transactional)
        return lambda fn: register(_pausing(fn, f"migration-{name or fn.__name__}"))


def _pausing(fn: Callable[[Database], None], point: str) -> Callable[[Database], None]:
    @functools.wraps(fn)  # the wrapper keeps the migration's name
    def migrate(db: Database) -> None:
        with db.tracer(lambda sql, params: pause_point(point)):
            fn(db)
        pause_point(point)

    return migrate


migrations = _PausableMigrations("cifar-tui")


@migrations()
def m001_runs_epochs_losses(db: Database) -> None:
    # Plain SQL: sqlite-utils cannot declare ON DELETE CASCADE or a CHECK constraint.
    statuses = ", ".join(f"'{s}'" for s in FIRST_STATUSES)
    # One statement at a time: executescript() would commit the migration's transaction.
    for statement in f"""
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ({statuses})),
            model TEXT NOT NULL,
            dataset TEXT NOT NULL,
            epochs INTEGER NOT NULL,
            config TEXT NOT NULL,
            queue_pos REAL NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            worker TEXT,
            device TEXT,
            device_name TEXT,
            params INTEGER,
            total_steps INTEGER,
            epochs_done INTEGER NOT NULL DEFAULT 0,
            train_loss REAL,
            test_loss REAL,
            test_acc REAL,
            best_test_acc REAL,
            images_per_s REAL,
            seconds REAL,
            error TEXT
        );
        CREATE INDEX runs_status_queue ON runs (status, queue_pos);
        CREATE TABLE epochs (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            step INTEGER NOT NULL,
            train_loss REAL,
            test_loss REAL,
            test_acc REAL,
            class_acc TEXT,
            seconds REAL,
            images_per_s REAL,
            PRIMARY KEY (run_id, epoch)
        );
        CREATE TABLE losses (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            loss REAL,
            PRIMARY KEY (run_id, step)
        ) WITHOUT ROWID;
    """.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m002_run_heartbeat(db: Database) -> None:
    # The owning worker's last sign of life (see store/liveness.py).
    db["runs"].add_column("heartbeat_at", str)


@migrations()
def m003_cancel_requests(db: Database) -> None:
    # Set by any process to stop a run another process trains; its worker polls it.
    db["runs"].add_column("cancel_requested", int, not_null_default=0)


@migrations()
def m004_run_ids_never_reused(db: Database) -> None:
    """runs.id becomes AUTOINCREMENT, so that a deleted run's id (and its checkpoint folder, its
    place in exported tables) never names another run.

    SQLite cannot add AUTOINCREMENT to a table: the three tables are rebuilt in this migration's
    transaction. Children are dropped before their parent, so that dropping `runs` cascades to
    nothing, and renaming runs_new to runs updates the new children's foreign keys with it.
    """
    columns = {
        "runs": "id, name, status, model, dataset, epochs, config, queue_pos, created_at, started_at, "
        "finished_at, worker, device, device_name, params, total_steps, epochs_done, train_loss, "
        "test_loss, test_acc, best_test_acc, images_per_s, seconds, error, heartbeat_at, cancel_requested",
        "epochs": "run_id, epoch, step, train_loss, test_loss, test_acc, class_acc, seconds, images_per_s",
        "losses": "run_id, step, epoch, loss",
    }
    old_runs = db["runs"].schema
    new_runs = old_runs.replace("id INTEGER PRIMARY KEY", "id INTEGER PRIMARY KEY AUTOINCREMENT", 1)
    db.execute(
        new_runs.replace("CREATE TABLE runs", "CREATE TABLE runs_new", 1).replace(
            'CREATE TABLE "runs"', "CREATE TABLE runs_new", 1
        )
    )
    for child in ("epochs", "losses"):
        schema = db[child].schema.replace("REFERENCES runs(id)", "REFERENCES runs_new(id)")
        db.execute(schema.replace(f"CREATE TABLE {child}", f"CREATE TABLE {child}_new", 1))
    for table in ("runs", "epochs", "losses"):
        db.execute(f"INSERT INTO {table}_new ({columns[table]}) SELECT {columns[table]} FROM {table}")
    for table in ("losses", "epochs", "runs"):
        db.execute(f"DROP TABLE {table}")
    for table in ("runs", "epochs", "losses"):
        db.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    db.execute("CREATE INDEX runs_status_queue ON runs (status, queue_pos)")
    db.execute("CREATE INDEX runs_finished_at ON runs (finished_at)")  # viewers look for new endings


@migrations()
def m005_pause_requests(db: Database) -> None:
    """Pause, like cancel, is a request in the store that every worker polls, wherever it runs:
    of one run (it holds at its next batch), or of a worker's queue (it takes no new run)."""
    db["runs"].add_column("pause_requested", int, not_null_default=0)
    # devices: what the worker can train on (JSON list), so that the app checks a form's device
    # against its engine's machine without importing torch itself.
    db.execute("CREATE TABLE workers (name TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0, devices TEXT)")


@migrations()
def m006_device_memory(db: Database) -> None:
    """GPU memory as the worker measured it, so that a viewer in another process (or on another
    machine) shows it without touching the GPU: in use now, the device's total, each epoch's peak."""
    db["runs"].add_column("memory_used", int)
    db["runs"].add_column("memory_total", int)
    db["epochs"].add_column("memory_peak", int)


@migrations()
def m007_sweeps_groups_tags_notes(db: Database) -> None:
    """A run's sweep, its group (runs whose configs differ only in seed and name share a
    group_key), its tags (a JSON list) and a note."""
    from .groups import group_key

    db["runs"].add_column("sweep", str)
    db["runs"].add_column("group_key", str)
    db["runs"].add_column("tags", str, not_null_default="[]")
    db["runs"].add_column("note", str, not_null_default="")
    db.conn.executemany(
        "UPDATE runs SET group_key = ? WHERE id = ?",
        [(group_key(json.loads(config)), run_id) for run_id, config in db.execute("SELECT id, config FROM runs")],
    )
    db.execute("CREATE INDEX runs_group_key ON runs (group_key)")
    db.execute("CREATE INDEX runs_sweep ON runs (sweep)")


@migrations()
def m008_epoch_dashboard(db: Database) -> None:
    """What Live shows of each epoch beside the loss, kept for finished runs too: the learning
    rate, the confusion matrix, and a few misclassified test images with their labels."""
    for column, kind in (("lr", float), ("confusion", str), ("wrong_labels", str), ("wrong_images", str)):
        db["epochs"].add_column(column, kind)


@migrations()
def m009_worker_pools(db: Database) -> None:
    """A worker started by `cifar-tui worker --devices` (one per device) names its pool: the
    supervising process, whose queue pause holds every member and whose runs are its members'."""
    db["workers"].add_column("pool", str)


@migrations()
def m010_model_files_and_partial_evaluation(db: Database) -> None:
    """A failed run's traceback (its model file raised), and how many test images an epoch's
    figures cover when evaluation was limited (0: the whole test set)."""
    db["runs"].add_column("error_detail", str)
    db["runs"].add_column("eval_images", int, not_null_default=0)
    db["epochs"].add_column("eval_images", int, not_null_default=0)


@migrations()
def m011_claim_tokens(db: Database) -> None:
    """Fencing: each claim of a run counts up its `claim` token, and every write a worker makes
    about the run holds only while the run is still running under the token that worker got
    (store/recorder.py). A worker that lost its run (frozen, marked interrupted, resumed
    elsewhere) then writes nothing more to it."""
    db["runs"].add_column("claim", int, not_null_default=0)
    db.execute("UPDATE runs SET claim = 1 WHERE status != 'queued'")


@migrations()
def m012_run_classes(db: Database) -> None:
    """The class names of the run's dataset, in label order (a JSON list), recorded when it
    starts: CIFAR-100's hundred, an image folder's. NULL in older runs: CIFAR-10's ten."""
    db["runs"].add_column("classes", str)


@migrations()
def m013_held_out_evaluations(db: Database) -> None:
    """Held-out sets' figures (--eval-on): one row per run, epoch, set and part (a CIFAR-10-C
    corruption at a severity, or "" for a whole set), and each run's summaries per set (JSON on
    runs: {"cifar10.1": {"acc": ..., "gap": ...}}), which filters, sorts and tables read."""
    db.execute(
        """CREATE TABLE evaluations (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            label TEXT NOT NULL,
            part TEXT NOT NULL,
            images INTEGER NOT NULL,
            acc FLOAT NOT NULL,
            loss FLOAT NOT NULL,
            PRIMARY KEY (run_id, epoch, label, part)
        )"""
    )
    db["runs"].add_column("evals", str)


@migrations()
def m014_searches(db: Database) -> None:
    """A search (store/study.py): its settings in `studies`, named like a sweep (its runs' `sweep`);
    each trial's number and what Optuna's sampler and pruner remember of it (JSON); and the
    status `pruned`, for a trial its pruner stopped early.

    SQLite cannot change a CHECK constraint: runs is rebuilt with the new list, and so are the
    tables that refer to it, as m004 did (dropping runs alone would cascade to its children).
    """
    db.execute(
        """CREATE TABLE studies (
            name TEXT PRIMARY KEY,
            search TEXT NOT NULL,
            trials INTEGER NOT NULL,
            prune TEXT NOT NULL,
            objective TEXT NOT NULL,
            parallel INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            preset TEXT,
            space TEXT NOT NULL,
            fixed TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db["runs"].add_column("trial", int)
    db["runs"].add_column("trial_attrs", str)
    old = ", ".join(f"'{s}'" for s in FIRST_STATUSES)
    new = ", ".join(f"'{s}'" for s in STATUSES)
    children = ("epochs", "losses", "evaluations")
    tables = ("runs", *children)
    columns = {table: ", ".join(db[table].columns_dict) for table in tables}
    runs_schema = db["runs"].schema
    assert f"IN ({old})" in runs_schema, "runs' CHECK constraint is not m001's"
    db.execute(_renamed(runs_schema.replace(f"IN ({old})", f"IN ({new})", 1), "runs"))
    for child in children:
        # m004's rename wrote the reference as "runs": a child left pointing at runs would lose
        # its rows when runs is dropped.
        schema, found = re.subn(r'REFERENCES\s+"?runs"?\s*\(id\)', "REFERENCES runs_new(id)", db[child].schema)
        assert found == 1, f"{child} does not refer to runs once"
        db.execute(_renamed(schema, child))
    for table in tables:
        db.execute(f"INSERT INTO {table}_new ({columns[table]}) SELECT {columns[table]} FROM {table}")
    indexes = [
        row[0]
        for row in db.execute(
            f"SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN {tables}"
        )
    ]
    # The copy's AUTOINCREMENT counter starts at its largest id: a deleted newest run's id would
    # come back. It takes the old table's counter instead.
    last_id = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'runs'").fetchone()
    for table in reversed(tables):
        db.execute(f"DROP TABLE {table}")
    for table in tables:
        db.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for index in indexes:
        db.execute(index)
    if last_id is not None:
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'runs'")
        db.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'runs', max(?, coalesce(max(id), 0)) FROM runs",
            [last_id[0]],
        )
    db.execute("CREATE INDEX runs_trials ON runs (sweep, trial)")


@migrations()
def m015_run_environments(db: Database) -> None:
    """What each run ran on (engine/environment.py), as JSON with sorted keys: equal environments
    are equal text, which the group mark compares in SQL."""
    db["runs"].add_column("environment", str)


@migrations()
def m016_group_keys_over_changed_fields(db: Database) -> None:
    """Group keys leave out fields at their default (store/groups.py): runs recorded before a
    config field was added (deterministic, eval_on, ...) group with newer runs of the same config."""
    from .groups import group_key

    db.conn.executemany(
        "UPDATE runs SET group_key = ? WHERE id = ?",
        [(group_key(json.loads(config)), run_id) for run_id, config in db.execute("SELECT id, config FROM runs")],
    )


@migrations()
def m017_raw_accuracy_beside_the_average(db: Database) -> None:
    """With --ema the test accuracy is the averaged weights'; the raw model's is kept beside it,
    each epoch's and the run's last."""
    db["epochs"].add_column("raw_test_acc", float)
    db["runs"].add_column("raw_test_acc", float)


def _renamed(schema: str, table: str) -> str:
    for spelling in (f"CREATE TABLE {table}", f'CREATE TABLE "{table}"', f"CREATE TABLE [{table}]"):
        if schema.startswith(spelling):
            return schema.replace(spelling, f"CREATE TABLE {table}_new", 1)
    raise ValueError(f"unexpected schema of {table}: {schema[:60]}")


# Every migration this version knows, in order (pending() on an empty database lists them all).
MIGRATION_NAMES = tuple(m.name for m in migrations.pending(Database(memory=True)))
