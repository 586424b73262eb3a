"""Every run in a home's store, one line each, for the GPU check's log. Usage: list_runs.py RUNS_DB."""

import sqlite3
import sys

rows = (
    sqlite3.connect(sys.argv[1])
    .execute(
        "SELECT id, name, status, epochs_done, round(test_acc, 2), round(images_per_s), error FROM runs ORDER BY id"
    )
    .fetchall()
)
print("\n== every run in the home: id, name, status, epochs done, test acc, img/s, error")
for row in rows:
    print(*row, sep=" | ")
