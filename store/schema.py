"""The database schema, as sqlite-utils migrations applied when a store opens."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

STATUSES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")

migrations = Migrations("cifar-tui")


@migrations()
def m001_runs_epochs_losses(db: Database) -> None:
    # Plain SQL: sqlite-utils cannot declare ON DELETE CASCADE or a CHECK constraint.
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
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


# Every migration this version knows, in order (pending() on an empty database lists them all).
MIGRATION_NAMES = tuple(m.name for m in migrations.pending(Database(memory=True)))
