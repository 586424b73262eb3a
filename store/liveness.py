"""Who owns a running run, and whether that owner is still alive.

A worker is "host:pid" and writes a heartbeat every few seconds while it owns running runs.
A run left `running` by a dead owner (its pid gone on this host, or no heartbeat for a
minute) becomes `interrupted`; a run that a live worker owns is never touched.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(minutes=1)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    try:  # a killed process that nobody has reaped yet is a zombie: dead all the same
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def owner_alive(worker: str | None, heartbeat_at: str | None, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    host, _, pid = (worker or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid)):
        return False
    if heartbeat_at is None:
        return True  # claimed moments ago, or by a version without heartbeats: give it the benefit
    return now - datetime.fromisoformat(heartbeat_at) <= STALE_AFTER
