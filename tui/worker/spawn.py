"""How a worker process is started: this package's entry point, never the command line's."""

from __future__ import annotations

import sys
from pathlib import Path


def spawn_args(home_path: Path | str, *options: str) -> list[str]:
    """The command line of a worker process on the home folder, with the worker's options."""
    return [sys.executable, "-m", "cifar_tui.tui.worker", "--home", str(home_path), *options]
