"""Who owns a running run, and whether that owner is still alive.

A worker is "host:pid" and writes a heartbeat every few seconds while it owns running runs.
A run left `running` by a dead owner becomes `interrupted`; a run that a live worker owns is
never touched.

On this host the process table decides: an owner whose process is alive keeps its runs however
long it has been silent. A silent live process is frozen (Ctrl-Z, SIGSTOP, a suspended laptop)
and goes on where it stopped once continued; taking its run away would have two processes
train it. (Its training cannot hang it: the training runs in a child process that the worker
stops by force when it does not answer, tui/worker/training_process.py, while the worker's
own recorder thread keeps beating.) A pid that a newer process reuses is told apart by its
start time. An owner on another host is judged by its heartbeat: silent for STALE_AFTER, it is
taken for dead, and fencing (store/recorder.py) keeps it from writing should it come back.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=float(os.environ.get("CIFAR_TUI_STALE_AFTER_S", "60")))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return _state(pid) != "Z"  # a killed process that nobody has reaped yet is a zombie: dead all the same


def pid_stopped(pid: int) -> bool:
    """Frozen by SIGSTOP or Ctrl-Z: alive, but doing nothing until it gets SIGCONT."""
    return _state(pid) in ("T", "t")


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name; [] where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()
    except OSError:
        return []


def _state(pid: int) -> str:
    fields = _stat(pid)
    return fields[0] if fields else "?"


def started_at(pid: int) -> datetime | None:
    """When the process started (to a second), from /proc; None where that cannot be read."""
    fields = _stat(pid)
    try:
        ticks = int(fields[19])  # field 22 of stat: start time in clock ticks after boot
        with open("/proc/stat") as stat:
            boot = next(int(line.split()[1]) for line in stat if line.startswith("btime "))
        return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
    except (IndexError, ValueError, OSError, StopIteration):
        return None


def owner_alive(worker: str | None, heartbeat_at: str | None, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    host, _, pid = (worker or "").rpartition(":")
    beat = datetime.fromisoformat(heartbeat_at) if heartbeat_at else None
    if host == socket.gethostname() and pid.isdigit():
        if not pid_alive(int(pid)):
            return False
        began = started_at(int(pid))
        # The owner started before it claimed the run, so before its every heartbeat: a process
        # that started later only reuses the dead owner's pid (a second of slack: btime's unit).
        return began is None or beat is None or began <= beat + timedelta(seconds=1)
    if beat is None:
        return True  # claimed moments ago, or by a version without heartbeats: give it the benefit
    return now - beat <= STALE_AFTER
