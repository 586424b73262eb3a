"""The folder a user's runs live in: runs.db, data/, checkpoints/ and the logs. A leaf module."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ...store.runs import RunStore
from .log_file import LogFile

ENV_HOME = "CIFAR_TUI_HOME"


class HomeError(ValueError):
    """The home folder cannot be used; the message says why."""


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("cifar-tui", appauthor=False))


class Home:
    def __init__(self, path: Path):
        self.path = path

    @property
    def db_path(self) -> Path:
        return self.path / "runs.db"

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def log_path(self) -> Path:
        return self.path / "cifar-tui.log"

    def start_log(self) -> None:
        """Tracebacks go to <home>/cifar-tui.log, never onto the user's screen; a log that cannot
        be written costs only the log (tui/log_file.py), a home that cannot be made is an error."""
        root = logging.getLogger()
        if any(getattr(h, "baseFilename", None) == str(self.log_path.absolute()) for h in root.handlers):
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HomeError(f"home: cannot use {self.path} ({error.strerror})") from None
        root.addHandler(LogFile(self.log_path))  # not basicConfig: it does nothing once any library added a handler
        root.setLevel(logging.INFO)

    @property
    def settings_path(self) -> Path:
        return self.path / "settings.json"

    def setting(self, key: str, default: str = "") -> str:
        """A choice the app remembers between starts (its engine's devices, say)."""
        try:
            value = json.loads(self.settings_path.read_text()).get(key, default)
        except (OSError, ValueError, AttributeError):
            return default
        return value if isinstance(value, str) else default

    def remember(self, key: str, value: str) -> None:
        try:
            settings = json.loads(self.settings_path.read_text())
        except (OSError, ValueError):
            settings = {}
        settings = (settings if isinstance(settings, dict) else {}) | {key: value}
        temp = self.settings_path.with_suffix(".tmp")
        self.path.mkdir(parents=True, exist_ok=True)
        temp.write_text(json.dumps(settings, indent=2))
        os.replace(temp, self.settings_path)

    def store(self) -> RunStore:
        return RunStore(self.db_path)
