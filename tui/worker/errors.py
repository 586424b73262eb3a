"""How a command ends after an error: one line and an exit status (2 for a user's mistake, 1 for
a runtime error), the traceback into the home's log. The command line and the worker both end so."""

from __future__ import annotations

import logging
import sqlite3
import sys
from typing import NoReturn

from ...engine.checkpoint import CheckpointError
from ...engine.config import ConfigError
from ...engine.text import printable
from ...store.actions import ActionError
from ...store.runs import BUSY_TIMEOUT_S, RunTaken, StoreError
from .command import WorkerInputError
from .home import HomeError


def log_error(error: BaseException) -> str:
    """The traceback into <home>/cifar-tui.log (once the home is known); says where it went."""
    files = [h.baseFilename for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    if not files:
        return "run it again with a --home that can be written to see details"
    logging.getLogger("cifar-tui").error("command failed", exc_info=error)
    return f"details in {files[0]}"


def one_line(error: BaseException) -> tuple[str, int]:
    """(the line a user reads, the exit status) for an error that ended a command."""
    if isinstance(error, (ConfigError, HomeError, WorkerInputError, ActionError)):
        return str(error), 2
    if isinstance(error, (StoreError, RunTaken, CheckpointError)):
        return str(error), 1
    where = log_error(error)
    if isinstance(error, sqlite3.Error):
        if "locked" in str(error) or "busy" in str(error):
            return (
                f"the database stayed locked by another program for {BUSY_TIMEOUT_S:g} s; try again when it is done",
                1,
            )
        return f"database error: {error}", 1
    if isinstance(error, OSError):
        return f"{error.filename or ''}: {error.strerror or error}".lstrip(": "), 1
    return f"unexpected {type(error).__name__}: {printable(str(error))[:200]}; {where}", 1  # a bug


def fail(message: str, status: int, program: str = "cifar-tui") -> NoReturn:
    print(f"{program}: error: {printable(message)}", file=sys.stderr)
    sys.exit(status)
