"""The app's engine as a thread (`cifar-tui --engine thread`): one local worker in the app's
process, training on the worker's thread. Like every trainer it writes through the recorder; the
app shows its runs by following the store, as it does for any other worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .local_worker import LocalWorker

if TYPE_CHECKING:
    from .home import Home


class EngineThread(LocalWorker):
    """An EngineHost (tui/worker/engine_host.py)."""

    def __init__(self, home: Home):
        from .notify import notifiers, target_for

        self.notifiers = notifiers(target_for(home), home)
        super().__init__(home, isolated=False, forward=self.notifiers)

    def close(self, *args, **kwargs) -> bool:
        from .notify import close_all

        closed = super().close(*args, **kwargs)
        close_all(self.notifiers)
        return closed

    def keep_alive(self) -> str | None:
        """A thread of this process lives as long as the app."""
        return None
