"""The `cifar-tui` command line: the app, and the same engine and store without it.

Exit status: 0 success, 1 a failed run or a runtime error, 2 bad input (one line on stderr).
torch is imported only by the commands that train, so the others start fast.

One module per kind of command (root.py holds the group and what they share); each
registers its commands on `cli` when imported."""

from . import bench, browsing, control, figures, insight, queue, training  # noqa: F401 (each registers its commands)
from .root import cli, main

__all__ = ["cli", "main"]
