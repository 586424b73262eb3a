"""The app's engine as a child process (`cifar-tui worker`), the app's default.

Training then shares neither the GIL nor a CPU-time budget with the UI's Python. The app talks
to it as to any worker: it follows its runs through the store, and cancel and pause are requests
in the store that the worker polls. The worker stops by itself when the app dies (a dropped SSH
session), as the engine thread would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from ...store.runs import RunStore
from .spawn import spawn_args

RESTART_AFTER_S = 10  # a child that dies sooner than this is not restarted: it would die again


class EngineProcess:
    """An EngineHost (tui/worker/engine_host.py)."""

    def __init__(self, home_path: Path, log_path: Path, store: RunStore, devices: str = ""):
        """devices: "" for one worker, or a `worker --devices` list (cuda:0,cuda:1, all, cpu,cpu)
        for a pool of workers, one per device, that the app treats as its one engine."""
        self.home_path = home_path
        self.devices = devices
        self.log_path = log_path
        self.store = store  # the UI thread's connection: call these methods on that thread
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.gave_up = False

    def start(self) -> None:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                spawn_args(
                    self.home_path,
                    "--with-parent",
                    str(os.getpid()),
                    *(("--devices", self.devices) if self.devices else ()),
                ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    @property
    def worker_name(self) -> str:
        """The name the child's runs carry in the store (store.runs.worker_id in the child)."""
        return f"{socket.gethostname()}:{self.process.pid}" if self.process else ""

    def exit_code(self) -> int | None:
        """None while the child runs (or before it started)."""
        return self.process.poll() if self.process else None

    def keep_alive(self) -> str | None:
        """Start a new child if this one died (its run becomes interrupted); what to tell the user."""
        code = self.exit_code()
        if code is None or self.gave_up:
            return None
        if time.monotonic() - self.started_at < RESTART_AFTER_S:
            self.gave_up = True
            return f"the engine process stopped (exit {code}) right after starting; see {self.log_path}"
        paused = self.store.worker_paused(self.worker_name)
        self.start()
        if paused:  # the new child holds the queue as the old one did
            self.store.pause_worker(self.worker_name)
        return f"the engine process stopped (exit {code}); started a new one. Its log: {self.log_path}"

    def wake(self) -> None:
        """Nothing to do: the child looks at the queue twice a second."""

    def training(self) -> list[int]:
        """The ids of the runs the child (or, for a pool, its workers) trains now."""
        return self.store.training_runs_of(self.worker_name)

    def close(self, timeout: float = 30.0) -> bool:
        """Ctrl-C for the worker: it cancels its run cleanly, records it and exits."""
        if self.process is None or self.process.poll() is not None:
            return True
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return False
        return True
