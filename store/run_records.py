"""What the run store's parts share: a claim, the store's errors, the statuses a run resumes
from, the clock and a worker's name."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .columns import STORED

RESUMABLE = ("interrupted", "failed", "cancelled", "pruned")
PRUNED_AT = "cifar-tui:pruned_at"  # in a trial's attrs: the epoch its pruner stopped it at (never judged again)
# The run table as people see it (runs --json, export, the Runs screen).
RUN_COLUMNS = STORED  # store/columns.py
NOTE_LIMIT = 2000  # characters
QUEUE_WHERE = "status IN ('running', 'queued')"  # the queue: what trains now and what waits


class Claim(NamedTuple):
    """A run taken for one worker: its id, config and the claim's token (fencing: every write
    about the run holds only under this token, store/recorder.py)."""

    run_id: int
    config: dict[str, Any]
    token: int


class StoreError(RuntimeError):
    """The database cannot be used; the message says why and what to do."""


class RunTaken(RuntimeError):
    """Another process holds the run: nothing was trained here."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
