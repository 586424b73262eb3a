"""Named points where the fault tests stop a process, to kill it exactly there.

With CIFAR_TUI_PAUSE_AT=NAME (or NAME:N for the Nth time it is reached) and CIFAR_TUI_PAUSE_DIR,
the process writes NAME.paused into that folder and sleeps until it is killed. Unset (always,
outside the tests), a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

_WANTED = os.environ.get("CIFAR_TUI_PAUSE_AT", "")
_reached: Counter[str] = Counter()


def pause_point(name: str) -> None:
    if not _WANTED:
        return
    wanted, _, nth = _WANTED.partition(":")
    if wanted != name:
        return
    _reached[name] += 1
    if _reached[name] != int(nth or 1):
        return
    Path(os.environ["CIFAR_TUI_PAUSE_DIR"], f"{name}.paused").write_text(str(os.getpid()))
    while True:
        time.sleep(60)
