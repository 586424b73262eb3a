"""The queue on a Ray cluster: `cifar-tui worker --ray [ADDRESS]`.

The dispatcher runs where the home is. It claims a queued run only when the cluster has room
for it (its GPUs, or CPUs, per run), starts it as an actor (engine/ray_backend.py) with the
dataset (shared once through Ray's object store) and, for a resumed run, its checkpoint; drains
each actor's events and records them with the one recorder here, so the store stays one SQLite
file written by one machine and Live shows a cluster run like any other. Each epoch's
checkpoint is written into the home before the recorder moves it into place. Cancel and pause
requests in the store reach the actor at the watcher's next poll. A run whose actor or node
dies ends `interrupted` with the reason; a run that fails fails alone; the dispatcher goes on.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from dataclasses import replace

from ...engine import ray_backend
from ...engine.checkpoint import checkpoint_path, write_pending
from ...engine.datasets import load_dataset
from ...engine.events import EpochEnd, RunCancelled, RunFailed, RunInterrupted
from ...engine.worker import Job, describe_error
from ...store.recorder import Recorder
from .control_watcher import ControlWatcher
from .headless import EventLines
from .job_source import QueueJobs
from .training_process import GRACE_S

log = logging.getLogger(__name__)
RESOURCES_EVERY_S = 2.0  # how often the cluster's size is asked for (nodes join and leave)
# How long a run whose actor Ray cannot reach waits for Ray to mark its node dead (some 15 s
# after the node's last heartbeat) before it ends as a lost worker instead of a lost node.
NODE_DEATH_WAIT_S = 30.0


ClusterUnreachable = ray_backend.ClusterUnreachable


class ClusterTooSmall(ValueError):
    """No run fits on the cluster as asked; the message says what to change."""


class RayDispatcher:
    def __init__(
        self,
        home,
        address: str | None = None,
        gpus_per_run: float | None = None,
        cpus_per_run: float = 1.0,
        forward: list | None = None,
    ):
        """address: None starts Ray here (unless the caller already did), "auto" joins `ray start`'s cluster."""
        self.home = home
        self.started_ray = ray_backend.connect(address)
        has_gpus = ray_backend.cluster_resources().get("GPU", 0) > 0
        self.gpus = (1.0 if has_gpus else 0.0) if gpus_per_run is None else gpus_per_run
        self.cpus = cpus_per_run
        self.recorder = Recorder(home.db_path, forward=forward if forward is not None else [EventLines()])
        self.jobs = QueueJobs(home, self.recorder)
        self.name = self.jobs.worker_name
        self.active: dict[int, ray_backend.ClusterRun] = {}
        self._idle: list[ray_backend.ClusterRun] = []  # actors whose run ended, for the next run
        self._paused: dict[int, bool] = {}
        self._jobs: dict[int, Job] = {}  # the active runs' jobs
        self._unreachable: dict[int, tuple[ray_backend.RunLost, float]] = {}  # run id -> (loss, when)
        self._stop_asked: dict[int, float] = {}  # run id -> when a cancel was passed on (the watcher's thread)
        self._datasets: dict[str, object] = {}
        self._capacity, self._capacity_at = 0, -math.inf
        self.queue_empty = False  # the last claim found nothing to take
        if self.capacity() == 0:
            problem = ClusterTooSmall(
                f"ray: the cluster has {self._describe_total()}, and a run asks for {self._asks()}; "
                + ("--gpus-per-run 0 trains on CPUs" if self.gpus else "lower --cpus-per-run")
            )
            self.recorder.close()
            if self.started_ray:
                ray_backend.shutdown()
            raise problem
        self.watcher = ControlWatcher(home.db_path, self.name, self._cancel, self._pause).start()

    def describe(self) -> str:
        return (
            f"ray dispatcher {self.name}: a cluster of {self._describe_total()}; {self._asks()} per run, "
            f"{self.capacity()} at once"
        )

    def _describe_total(self) -> str:
        total = ray_backend.cluster_resources()
        return f"{total.get('CPU', 0):g} CPUs and {total.get('GPU', 0):g} GPUs"

    def _asks(self) -> str:
        return " and ".join(f"{need:g} {kind}" for kind, need in (("GPU", self.gpus), ("CPU", self.cpus)) if need)

    def capacity(self) -> int:
        """How many runs the cluster holds at once, by what each asks for."""
        if time.monotonic() - self._capacity_at >= RESOURCES_EVERY_S:
            total = ray_backend.cluster_resources()
            wanted = [(total.get(kind, 0.0), need) for kind, need in (("GPU", self.gpus), ("CPU", self.cpus)) if need]
            self._capacity = min(int(have // need) for have, need in wanted) if wanted else 0
            self._capacity_at = time.monotonic()
        return self._capacity

    def step(self, timeout: float = 0.25) -> None:
        """Start what the cluster has room for, then record what the running runs sent."""
        self.queue_empty = False
        while len(self.active) < self.capacity():
            job = self.jobs()
            if job is None:
                self.queue_empty = True
                break
            try:
                self._start(job)
            except Exception as error:  # the dataset would not load here, say: this run fails, not the dispatcher
                log.info("run %s could not start", job.run_id, exc_info=True)
                self.recorder(RunFailed(job.run_id, describe_error(error, job.config)))
        for actor in self._idle:  # nothing queued for them: give their resources back
            actor.end()
        self._idle.clear()
        if not self.active:
            time.sleep(timeout)
            self._judge_unreachable()
            return
        for run in ray_backend.answered(list(self.active.values()), timeout):
            self._record(run)
        self._force_stops()
        self._judge_unreachable()

    def _force_stops(self) -> None:
        """A cancel its run has not honoured within GRACE_S (a forward that hangs) kills the
        run's actor; the run ends cancelled with its last recorded checkpoint."""
        for run_id, asked_at in list(self._stop_asked.items()):
            if run_id not in self.active:
                self._stop_asked.pop(run_id, None)
            elif time.monotonic() - asked_at > GRACE_S:
                self.active[run_id].end()
                self.recorder(
                    RunCancelled(
                        run_id,
                        0,
                        f"stopped by force: its training did not stop within {GRACE_S:.0f} s (a hung forward?); "
                        "resume continues it from its last completed epoch, if any",
                    )
                )
                self._forget(run_id)
                self._stop_asked.pop(run_id, None)

    def run(self, stop: threading.Event, until_empty: bool = False) -> None:
        while not stop.is_set():
            self.step()
            if until_empty and not self.active and not self._unreachable and self.queue_empty:
                return

    def close(self, timeout: float = 30.0) -> None:
        """Cancel the running runs, record their endings (up to timeout), stop."""
        for run in self.active.values():
            run.control(stop=True)
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            for run in ray_backend.answered(list(self.active.values()), 0.25):
                self._record(run)
        for run_id, run in list(self.active.items()):  # an actor that did not answer in time
            run.end()  # or it would hold its CPUs and GPUs in the cluster after this dispatcher is gone
            self._lost(run_id, "the dispatcher stopped before the run's cluster worker answered; resume it")
        self._judge_unreachable(final=True)
        for actor in self._idle:
            actor.end()
        self.watcher.close()
        self.recorder.close()
        if self.started_ray:
            ray_backend.shutdown()

    # ------------------------------------------------------------ one run

    def _start(self, job: Job) -> None:
        run_id, config = job.run_id, job.config
        if config.device != "cpu":  # the actor sees the GPUs Ray gave it (or none), numbered from 0
            config = config.replace(device="auto")
        local = checkpoint_path(self.home.checkpoint_dir, run_id)
        checkpoint = local.read_bytes() if local.exists() else None
        dataset = self._dataset(config.dataset)
        actor = self._idle.pop() if self._idle else ray_backend.ClusterRun(self.cpus, self.gpus)
        actor.start(run_id, config, dataset, checkpoint, job.judged)
        self.active[run_id] = actor
        self._jobs[run_id] = job

    def _dataset(self, name: str):
        if name not in self._datasets:  # loaded here once, where the data (or the network) is
            self._datasets[name] = ray_backend.share(load_dataset(name, self.home.data_dir, "cpu"))
        return self._datasets[name]

    def _record(self, run: ray_backend.ClusterRun) -> None:
        try:
            events, ended = run.take()
        except ray_backend.RunLost as error:
            run.end()  # its resources go back to the cluster now, not whenever Ray notices the death
            self._forget(run.run_id)
            self._unreachable[run.run_id] = (error, time.monotonic())
            self._judge_unreachable()
            return
        for event, checkpoint in events:
            if checkpoint is not None:
                event = self._checkpoint_here(event, checkpoint)
            self.recorder(event)
            if isinstance(event, EpochEnd):
                self._judge(run, event)
        if ended:
            self._forget(run.run_id)
            self._idle.append(run)

    def _judge(self, run: ray_backend.ClusterRun, event: EpochEnd) -> None:
        """A search's pruner judges the epoch here, where the store is; the remote run waits."""
        job = self._jobs.get(event.run_id)
        if job is not None and job.judged and event.epoch < job.config.epochs:
            run.verdict(event.epoch, self.jobs.judge(event))

    def _checkpoint_here(self, event: EpochEnd, data: bytes) -> EpochEnd:
        """The epoch's checkpoint as a pending file in the home: the recorder moves it into place
        once the epoch is recorded, as for a local run."""
        path = checkpoint_path(self.home.checkpoint_dir, event.run_id)
        try:
            pending = write_pending(path, event.epoch, data)
        except OSError:
            log.exception("run %s: could not write the checkpoint of epoch %s", event.run_id, event.epoch)
            return event
        return replace(event, checkpoint_temp=str(pending), checkpoint=str(path))

    def _judge_unreachable(self, final: bool = False) -> None:
        """End each lost run as what it lost: its node, once Ray marks it dead, or its worker (a
        node that told Ray the actor died, or one still alive after NODE_DEATH_WAIT_S). Nothing
        is retried: the run ends interrupted, and `resume` continues it from its checkpoint."""
        for run_id, (loss, since) in list(self._unreachable.items()):
            if loss.node is not None and not ray_backend.node_alive(loss.node):
                reason = f"its Ray node was lost (node {loss.node[:12]}); resume it"
            elif final or not loss.unavailable or time.monotonic() - since > NODE_DEATH_WAIT_S:
                reason = f"its Ray worker was lost ({loss}); resume it"
            else:
                continue
            del self._unreachable[run_id]
            self.recorder(RunInterrupted(run_id, reason))

    def _lost(self, run_id: int, reason: str) -> None:
        self.recorder(RunInterrupted(run_id, reason))
        self._forget(run_id)

    def _forget(self, run_id: int) -> None:
        self.active.pop(run_id, None)
        self._paused.pop(run_id, None)
        self._jobs.pop(run_id, None)

    # ------------------------------------------------------------ control (the watcher's thread)

    def _cancel(self, run_id: int) -> None:
        run = self.active.get(run_id)
        if run is not None:
            self._stop_asked.setdefault(run_id, time.monotonic())
            run.control(stop=True)

    def _pause(self, run_id: int, paused: bool) -> None:
        run = self.active.get(run_id)
        if run is not None and self._paused.get(run_id, False) != paused:
            self._paused[run_id] = paused
            run.control(pause=paused)


def run_dispatcher(
    home,
    address: str,
    gpus_per_run: float | None,
    cpus_per_run: float,
    until_empty: bool = False,
    parent: int | None = None,
    notify: str | None = None,
) -> int:
    """`cifar-tui worker --ray`: dispatch until Ctrl-C / SIGTERM (or an empty queue, or the app's
    end). Returns the exit status: 0, or 128 + the signal that stopped it."""
    from .notify import close_all, notifiers

    forward = [EventLines(), *notifiers(notify, home)]
    address = None if address == "local" else address
    dispatcher = RayDispatcher(home, address, gpus_per_run, cpus_per_run, forward=forward)
    stop = threading.Event()
    signalled: list[int] = []

    def stop_on(number: int, _frame=None) -> None:
        signalled.append(number)
        stop.set()

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, stop_on)
    print(f"{dispatcher.describe()}; Ctrl-C stops it", flush=True)
    if parent is not None:
        threading.Thread(target=_stop_with_parent, args=(parent, stop), daemon=True).start()
    try:
        dispatcher.run(stop, until_empty)
    finally:
        if dispatcher.active:
            print(f"stopping: cancelling run {', '.join(map(str, dispatcher.active))}", flush=True)
        dispatcher.close()
        close_all(forward)
    return 128 + signalled[0] if signalled else 0


def _stop_with_parent(parent: int, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        if os.getppid() != parent:
            stop.set()
