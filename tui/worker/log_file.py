"""<home>/cifar-tui.log: where tracebacks go, and a log that can never write to the terminal.

Python's logging prints "--- Logging error ---" and a traceback to stderr for every record
that a handler fails to write (a full disk, a read-only file). This handler instead turns
itself off at its first failure, opening the file included, and says so in one line on
stderr, once for the process's lifetime. Worker processes log through the same handler
(every `cifar-tui` command starts it).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ...engine.text import printable

FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"


class LogFile(logging.FileHandler):
    def __init__(self, path: Path):
        super().__init__(path, encoding="utf-8", delay=True)  # opened at the first record
        self.setFormatter(logging.Formatter(FORMAT))
        self.off = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.off:
            return
        try:
            super().emit(record)  # FileHandler opens the file here, outside its own error handling
        except OSError as error:
            self.turn_off(error)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            self.turn_off(error)
        # any other failure (a bad format string in a log call) loses that record, quietly

    def turn_off(self, error: OSError) -> None:
        self.off = True
        stream, self.stream = self.stream, None
        try:
            if stream is not None:
                stream.close()  # may fail again on what it still buffers
        except (OSError, ValueError):
            pass
        reason = error.strerror or type(error).__name__
        try:
            print(
                f"cifar-tui: note: cannot write {printable(self.baseFilename)} ({reason}); logging to it is off",
                file=sys.stderr,
            )
        except (OSError, ValueError):  # stderr itself may be that file, or closed
            pass
