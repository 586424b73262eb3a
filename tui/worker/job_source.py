"""The store's queue as a worker's job source: claims the next queued run for this worker,
unless someone paused this worker's queue (a request in the store)."""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
from typing import TYPE_CHECKING

from ...engine.config import ConfigError, RunConfig
from ...engine.events import EpochEnd, RunFailed
from ...engine.worker import Job
from ...store.runs import BUSY_TIMEOUT_S, RunStore, worker_id

if TYPE_CHECKING:
    from ...store.recorder import Recorder
    from .home import Home

log = logging.getLogger(__name__)


class QueueJobs:
    """Called on the worker's thread, which gets a store connection of its own."""

    def __init__(self, home: Home, recorder: Recorder, device: str | None = None, pool: str | None = None):
        self.home = home
        self.recorder = recorder  # told which claim each run is held under (fencing)
        self.device = device  # takes the runs queued for auto or for this device, and trains them here
        self.pool = pool  # the `worker --devices` process this worker is one device of
        self.worker_name = worker_id()
        self._local = threading.local()
        self._objectives: dict[int, dict[int, float]] = {}  # a judged run's objective per epoch, as it trains
        self._waiting = False  # the store refused the last claim, and the line saying so is out

    def __call__(self) -> Job | None:
        """The next job, or None. A store that cannot be written (locked past its patience, a
        full disk) raises, after one line on stderr for the outage: the worker asks again, and a
        search proposes its next trial once the store takes writes (nothing half-proposed: each
        proposal is one transaction)."""
        try:
            job = self._claim()
        except sqlite3.OperationalError as error:
            if not self._waiting:
                self._waiting = True
                print(f"cifar-tui: note: {why_the_queue_waits(error)}", file=sys.stderr, flush=True)
            raise
        self._waiting = False
        return job

    def _claim(self) -> Job | None:
        store = getattr(self._local, "store", None)
        if store is None:
            from ...engine.device import available_devices

            store = RunStore(self.home.db_path)
            try:
                store.register_worker(self.worker_name, available_devices(), self.pool)
            except sqlite3.Error:
                store.close()  # the next call opens and registers again
                raise
            self._local.store = store
        if store.worker_paused(self.worker_name):
            return None
        claimed = store.claim_next(self.worker_name, queued_for(self.device) if self.device else ())
        if claimed is None:
            return None
        run_id, config, token = claimed
        self.recorder.own(run_id, token)
        self._objectives.pop(run_id, None)
        try:
            run_config = RunConfig.from_dict(config)
        except ConfigError as error:
            # A run queued by another version, say: fail it and keep the worker going.
            self.recorder(RunFailed(run_id, f"invalid config: {error}"))
            return None
        if self.device and run_config.device == "auto":
            run_config = run_config.replace(device=self.device)
        return Job(run_id, run_config, judged=store.pruned_by_search(run_id))

    def judge(self, epoch_end: EpochEnd) -> bool:
        """Whether a search's trial goes on after this epoch (on the worker's thread, the claim's).
        A store that cannot be asked (locked past its timeout, say) lets the trial go on."""
        seen = self._objectives.setdefault(epoch_end.run_id, {})
        try:
            return self._local.store.judge_trial(epoch_end, seen)
        except Exception:
            log.exception("run %s: no verdict on epoch %s; it goes on", epoch_end.run_id, epoch_end.epoch)
            return True


def queued_for(device: str) -> tuple[str, ...]:
    """The config devices whose runs a worker on `device` takes: its own, under any spelling, and auto."""
    same = {"cuda": ("cuda", "cuda:0"), "cuda:0": ("cuda", "cuda:0")}.get(device, (device,))
    return ("auto", *same)


def why_the_queue_waits(error: sqlite3.OperationalError) -> str:
    if "locked" in str(error) or "busy" in str(error):
        reason = f"the store stayed locked by another program past {BUSY_TIMEOUT_S:g} s"
    elif "full" in str(error):
        reason = "the disk that holds the store is full"
    else:
        reason = f"the store refused a write ({error})"
    return f"{reason}; the queue waits, and claims and proposes the next run once it can write"
