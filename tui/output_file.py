"""A file written for the user (an export): never onto the home's store, and all or nothing.

The one rule both the command line and the app call. A path is the store's when it names
runs.db, its -wal, -shm or -journal file, or anything under checkpoints/, however it is
reached: a relative path, `..`, a symlink (os.path.realpath) or a hard link (same inode).
The text goes to a temporary file beside the target, is fsynced, and is renamed into place
with os.replace, so a failed write (full disk, permissions) leaves the old file as it was. A
target that is not a regular file (a FIFO, /dev/stdout, a device) is written into instead: a
rename would put a regular file in its place.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .worker.home import Home

STORE_FILES = {
    "": "this home's run store",
    "-wal": "this home's run store's write-ahead log",
    "-shm": "this home's run store's shared-memory file",
    "-journal": "this home's run store's journal",
}


class OutputRefused(ValueError):
    """A user's mistake (exit status 2): the file is part of the home's store."""


class OutputFailed(Exception):
    """The file could not be written (exit status 1); the old file, if any, is unchanged."""


def check_output(home: Home, path: Path) -> None:
    """Raises OutputRefused, naming the file, when writing `path` would write onto the store."""
    real = os.path.realpath(path)
    for suffix, what in STORE_FILES.items():
        guarded = Path(f"{home.db_path}{suffix}")
        if real == os.path.realpath(guarded) or _same_file(path, guarded):
            shown = "" if Path(path) == guarded else f" ({guarded})"
            raise OutputRefused(f"output: {path} is {what}{shown}; choose another file")
    checkpoints = os.path.realpath(home.checkpoint_dir)
    if os.path.commonpath([real, checkpoints]) == checkpoints or _linked_into(path, home.checkpoint_dir):
        raise OutputRefused(f"output: {path} is in this home's checkpoints folder; choose another file")


def write_output(home: Home, path: Path, text: str | bytes) -> None:
    """Write text (UTF-8, newlines as given) or bytes to path, atomically; raises OutputRefused or OutputFailed."""
    check_output(home, path)
    if _writes_through(path):
        _write_through(path, text)
        return
    target = Path(os.path.realpath(path))  # through a symlink: replace the file it names, not the link
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        old_mode = None
    temp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for any new file
        try:
            with _opened(fd, text) as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            if old_mode is not None:
                os.chmod(temp, old_mode)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as error:
        left = f"{path} is unchanged" if old_mode is not None else "nothing was written"
        raise OutputFailed(f"cannot write {path}: {error.strerror or error}; {left}") from None
    _sync_folder(target.parent)


_DESCRIPTOR = re.compile(r"/dev/(stdin|stdout|stderr|fd/\d+)|/proc/(self|thread-self|\d+)/fd/\d+")


def _writes_through(path: Path) -> bool:
    """A target that is not a regular file (a FIFO, a device, a terminal), or a process's own
    descriptor (/dev/stdout, /proc/self/fd/1: what the shell opened, even when that is a file):
    written into, never replaced by a renamed file. A regular file elsewhere under /dev (/dev/shm)
    is replaced as any other."""
    if _DESCRIPTOR.fullmatch(str(Path(path).absolute())):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # not there yet: a new regular file
        return False


def _opened(file: int | Path, text: str | bytes):
    return open(file, "wb") if isinstance(text, bytes) else open(file, "w", encoding="utf-8", newline="")


def _write_through(path: Path, text: str | bytes) -> None:
    try:
        with _opened(path, text) as file:
            file.write(text)
    except OSError as error:
        raise OutputFailed(f"cannot write {path}: {error.strerror or error}") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist
        return False


def _linked_into(path: Path, folder: Path) -> bool:
    """Whether path is a hard link to a file under folder."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    if info.st_nlink < 2 or not stat.S_ISREG(info.st_mode):
        return False
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                other = os.stat(os.path.join(parent, name))
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
                return True
    return False


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every filesystem lets a folder be fsynced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
