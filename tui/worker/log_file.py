"""<home>/cifar-tui.log: where tracebacks go, and a log that can never write to the terminal.

Python's logging prints "--- Logging error ---" and a traceback to stderr for every record
that a handler fails to write (a full disk, a read-only file). This handler instead turns
itself off at its first failure, opening the file included, and says so in one line on
stderr, once for the process's lifetime. Worker processes log through the same handler
(every `cifar-tui` command starts it); a worker's training children (a fresh one after each
failed run) share its flag of having said so, so that the terminal they share reads it once.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
from pathlib import Path

from ...engine.text import printable

FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"


class LogFile(logging.FileHandler):
    def __init__(self, path: Path, said=None):
        """said: the flag (a multiprocessing Value) of the process that started this one, from
        its handler's `shared_said()`."""
        super().__init__(path, encoding="utf-8", delay=True)  # opened at the first record
        self.setFormatter(logging.Formatter(FORMAT))
        self.off = False
        self.said = said

    def shared_said(self):
        """The flag to hand a child process writing the same file to the same terminal."""
        if self.said is None:
            self.said = multiprocessing.get_context("spawn").Value("b", 0)
        return self.said

    def _first_to_say(self) -> bool:
        if self.said is None:
            return True
        with self.said.get_lock():
            first, self.said.value = not self.said.value, 1
        return first

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
        if not self._first_to_say():
            return
        try:
            print(
                f"cifar-tui: note: cannot write {printable(self.baseFilename)} ({reason}); logging to it is off",
                file=sys.stderr,
            )
        except (OSError, ValueError):  # stderr itself may be that file, or closed
            pass


def shared_said(path: Path) -> object | None:
    """The said flag of this process's handler of the file at path, for a child to share; None
    when it logs elsewhere."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, LogFile) and handler.baseFilename == str(Path(path).absolute()):
            return handler.shared_said()
    return None
