"""Notices about a run's inputs that are not errors (a modified copy of CIFAR-10, say): one line
each, said once per process, on stderr and in the log."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)
_said: set[str] = set()


def notice(text: str) -> None:
    if text in _said:
        return
    _said.add(text)
    log.warning(text)
    print(f"cifar-tui: notice: {text}", file=sys.stderr, flush=True)
