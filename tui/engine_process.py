"""The app's engine as a child process (`cifar-tui worker`), for `cifar-tui --engine process`.

Training then shares neither the GIL nor a Python thread with the UI; the app follows the run
through the store (StoreFollower) and cancels through it (CancelWatcher in the worker).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path


class EngineProcess:
    def __init__(self, home_path: Path, log_path: Path):
        self.home_path = home_path
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "--home", str(self.home_path), "worker"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()

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
