"""What the app needs of its engine, whichever hosts it: a `cifar-tui worker` child process
(EngineProcess, the default) or a thread of the app (EngineThread). The app shows runs by
following the store and sends cancel and pause through it, as for any worker; this is all else."""

from __future__ import annotations

from typing import Protocol


class EngineHost(Protocol):
    @property
    def worker_name(self) -> str:
        """The name its runs carry in the store ("host:pid")."""

    def start(self) -> object: ...

    def wake(self) -> None:
        """Look at the queue now (a run was just queued)."""

    def keep_alive(self) -> str | None:
        """Restart what died, if it can; a line for the user when something did."""

    def training(self) -> list[int]:
        """The ids of the runs it trains now."""

    def close(self, timeout: float = 30.0) -> bool:
        """Stop its runs (cancelled, resumable) and write what is left; True when that was in time."""
