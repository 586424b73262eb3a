"""Every device of a box from one queue: `cifar-tui worker --devices cuda:0,cuda:1,...` starts an
ordinary worker process per device (`cifar-tui worker --device D`) and keeps each one going.

Processes, not threads: each device's Python drives its own GPU without waiting on one GIL, and
a CUDA error that poisons a process's context leaves the other devices training. The members
name this process as their pool: pausing the pool's queue holds them all, and the runs they
train are the pool's (store/runs.py), which is how the app treats a pool as its one engine.
Each member takes the runs queued for auto or for its own device.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass

from ...store.runs import worker_id
from .spawn import spawn_args

QUICK_DEATH_S = 10  # a member that dies this soon after starting, QUICK_DEATHS times in a row,
QUICK_DEATHS = 3  # is not restarted: it would only die again (a device it cannot use, say)
POLL_S = 0.5


class DevicesError(ValueError):
    """A --devices value that names no usable list; the message says what to give."""


def expand_devices(text: str, available: list[str]) -> list[str]:
    """'all': every GPU (MPS, or the CPU, when there is none); otherwise the comma list as given
    (a device may repeat: two runs share it)."""
    if text.strip() == "all":
        gpus = [d for d in available if d.startswith("cuda")]
        return gpus or [d for d in available if d == "mps"] or ["cpu"]
    devices = [name.strip() for name in text.split(",")]
    if not all(devices):
        raise DevicesError("devices: an empty name in the list; give them as cuda:0,cuda:1 (or all, or cpu,cpu)")
    return devices


def threads_each(devices: list[str]) -> int:
    """CPU threads per member: the machine's cores split between them, so that `cpu,cpu` runs
    two runs side by side instead of two runs fighting for every core."""
    return max(1, (os.cpu_count() or 1) // len(devices))


@dataclass
class Member:
    device: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    done: bool = False
    quick_deaths: int = 0

    def start(self) -> None:
        # A session of its own: Ctrl-C at the terminal reaches the pool, which passes it on
        # once; a second SIGINT would hit the member while it records its cancelled run.
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, start_new_session=True)
        self.started_at = time.monotonic()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)


def run_pool(home, devices: list[str], until_empty: bool, parent: int | None = None, notify: str | None = None) -> int:
    """Start a member per device and supervise them until Ctrl-C / SIGTERM (or, with until_empty,
    until every member found the queue empty; or the parent app's end). Returns the exit status:
    0, or 128 + the signal that stopped it."""
    name = worker_id()
    store = home.store()
    store.register_worker(name, list(dict.fromkeys(devices)))
    store.close()
    base = spawn_args(home.path, "--with-parent", str(os.getpid()))
    extra = ["--pool", name, "--threads", str(threads_each(devices))] + (["--until-empty"] if until_empty else [])
    extra += ["--notify", notify or ""]  # each member tells of its own runs ("": none, whatever the home says)
    members = [Member(device, [*base, "--device", device, *extra]) for device in devices]
    stopping: list[int] = []
    handlers = {
        number: signal.signal(number, lambda number, _frame: stopping.append(number))
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    print(f"pool {name}: a worker on each of {', '.join(devices)}; Ctrl-C stops them", flush=True)
    try:
        for member in members:
            member.start()
        while not stopping and not all(member.done for member in members):
            if parent is not None and os.getppid() != parent:
                print("the app that started this pool is gone: stopping its workers", flush=True)
                break
            for member in members:
                _look_after(member, until_empty)
            time.sleep(POLL_S)
    finally:
        for member in members:
            member.stop()
        for member in members:
            if member.process is not None:
                try:
                    member.process.wait(30)
                except subprocess.TimeoutExpired:
                    member.process.kill()
        for number, handler in handlers.items():
            signal.signal(number, handler)
    return 128 + stopping[0] if stopping else 0


def _look_after(member: Member, until_empty: bool) -> None:
    """Restart a member that died (its run becomes interrupted: resume it), unless it ended by
    design or keeps dying as soon as it starts."""
    code = None if member.done or member.process is None else member.process.poll()
    if code is None:
        return
    if until_empty and code == 0:
        member.done = True
        return
    quick = time.monotonic() - member.started_at < QUICK_DEATH_S
    member.quick_deaths = member.quick_deaths + 1 if quick else 0
    if member.quick_deaths >= QUICK_DEATHS:
        member.done = True
        print(f"the worker on {member.device} keeps stopping (exit {code}) as it starts; not restarted", flush=True)
    else:
        print(f"the worker on {member.device} stopped (exit {code}); starting a new one", flush=True)
        member.start()
