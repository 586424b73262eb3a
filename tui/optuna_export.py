"""`cifar-tui export --optuna STORAGE SEARCH`: where a search goes as an Optuna study.

STORAGE is an Optuna storage URL (sqlite:///searches.db, postgresql://…), a file ending in .db
or .sqlite (an SQLite storage: `optuna-dashboard sqlite:///searches.db`), or any other file
name, an Optuna journal file (`optuna-dashboard searches.log`; no database driver needed). The
home's own store and checkpoints are refused as for any output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .output_file import check_output

if TYPE_CHECKING:
    from .worker.home import Home

SQLITE_URL = "sqlite:///"


def optuna_storage(home: Home, text: str) -> Any:
    """The storage STORAGE names, checked to be no file of the home's store (raises OutputRefused)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if "://" in text:
        if text.startswith(SQLITE_URL):
            check_output(home, Path(text.removeprefix(SQLITE_URL) or "."))
        return text
    path = Path(text)
    check_output(home, path)
    if path.suffix in (".db", ".sqlite", ".sqlite3"):
        return SQLITE_URL + os.path.abspath(path)
    return JournalStorage(JournalFileBackend(str(path)))
