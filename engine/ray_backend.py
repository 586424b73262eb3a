"""A run trained as a Ray actor, on whichever node of a cluster has room for it.

The actor runs the engine's own loop (engine/worker.py's run_job) and keeps its events until the
dispatcher drains them; cancel, pause and a search's verdicts arrive as actor calls; each epoch's checkpoint goes back
as bytes with the EpochEnd that covers it, so the home keeps every checkpoint and `resume` works
anywhere. The dataset arrives through Ray's object store, so nodes need no internet.

Only this module imports ray, and it knows nothing of the store: tui/worker/ray_dispatcher.py
connects it to the queue and the recorder.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import ray

from .checkpoint import checkpoint_path
from .config import RunConfig
from .data import Dataset
from .device import resolve_device
from .events import EpochEnd, RunStarted
from .run_control import RunControl, Verdicts
from .worker import Job, run_job

DRAIN_WAIT_S = 0.25  # a drain call waits this long for news before it answers with nothing


def connect(address: str | None) -> bool:
    """Join the cluster at address ("auto": the one `ray start` made on this machine), or start
    Ray here for None. False if Ray was already initialised by the caller (a test, say)."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address is not None:
        # The engine's code travels with each run, so nodes need torch, not cifar-tui.
        options["runtime_env"] = {"py_modules": [engine_package()]}
    try:
        _knock(address)
        ray.init(address=address, **options)
    except ConnectionError:
        raise ClusterUnreachable(
            f"ray: no Ray cluster found at {address}; start one with `ray start --head`, "
            "or give no address to start Ray here"
        ) from None
    return True


def engine_package() -> str:
    """A folder named cifar_tui holding only the engine: Ray ships it to every node, where the
    engine's modules then import under their installed names (cifar_tui.engine.worker)."""
    from .. import engine

    folder = Path(tempfile.mkdtemp(prefix="cifar-tui-ray-")) / "cifar_tui"
    shutil.copytree(Path(engine.__file__).parent, folder / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    return str(folder)


def _knock(address: str | None, timeout: float = 5.0) -> None:
    """A host:port that answers nothing fails here in seconds; Ray itself retries for minutes."""
    host, _, port = (address or "").removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or none: Ray looks for the local cluster itself, quickly
    try:
        socket.create_connection((host, int(port)), timeout).close()
    except OSError as error:
        raise ConnectionError(str(error)) from None


class ClusterUnreachable(ConnectionError):
    """Ray found no cluster at the address given; the message says how to start one."""


def cluster_resources() -> dict[str, float]:
    return ray.cluster_resources()


def share(dataset: Dataset) -> ray.ObjectRef:
    """The dataset into the object store, once: every run on every node reads it from there."""
    return ray.put(dataset)


def shutdown() -> None:
    ray.shutdown()


class RunLost(RuntimeError):
    """The process (or the node) that trained a run is gone: the run did not end by itself.
    node: the id of the node it trained on (None if the actor never answered); unavailable: Ray
    could not reach the actor (its node may be dying: Ray marks a lost node dead some 15 s
    later) rather than being told by the node that the actor died."""

    def __init__(self, reason: str, node: str | None = None, unavailable: bool = False):
        super().__init__(reason)
        self.node, self.unavailable = node, unavailable


def node_alive(node: str) -> bool:
    """Whether the cluster still counts the node alive (a node it never knew counts as dead)."""
    return any(n["NodeID"] == node and n["Alive"] for n in ray.nodes())


class ClusterRun:
    """The dispatcher's handle on an actor somewhere in the cluster, and the run it trains.

    An actor trains one run after another (`start` again once a run has ended): a new actor is
    a new process that imports torch, seconds that a queue of short runs would pay each time.
    """

    def __init__(self, cpus: float, gpus: float):
        options = {"num_cpus": cpus, "num_gpus": gpus, "max_concurrency": 4, "max_restarts": 0}
        self._actor = _RemoteRunActor.options(**options).remote(max(1, int(cpus)))
        self._node = self._actor.node.remote()  # asked once, while the actor is there to answer
        self._drain: ray.ObjectRef | None = None
        self.run_id: int | None = None

    def start(
        self, run_id: int, config: RunConfig, dataset: ray.ObjectRef, checkpoint: bytes | None, judged: bool = False
    ) -> None:
        """judged: a search's trial, which waits at each epoch's end for `verdict`."""
        self.run_id, self._drain = run_id, None
        self._actor.train.remote(run_id, config.to_json(), dataset, checkpoint, judged)

    def verdict(self, epoch: int, go_on: bool) -> None:
        self._actor.verdict.remote(self.run_id, epoch, go_on)

    def news(self) -> ray.ObjectRef:
        """The outstanding drain call (one at a time, so that events arrive in order)."""
        if self._drain is None:
            self._drain = self._actor.drain.remote(self.run_id)
        return self._drain

    def take(self) -> tuple[list[tuple[Any, bytes | None]], bool]:
        """What the answered drain call brought: (events with checkpoint bytes, run ended)."""
        ref, self._drain = self.news(), None
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as error:  # the actor, its node or its object is gone
            unavailable = isinstance(error, ray.exceptions.ActorUnavailableError)
            raise RunLost(_first_line(error), self._node_id(), unavailable) from None

    def _node_id(self) -> str | None:
        try:
            return ray.get(self._node, timeout=0)
        except (ray.exceptions.RayError, ray.exceptions.GetTimeoutError):
            return None

    def control(self, stop: bool = False, pause: bool | None = None) -> None:
        self._actor.control.remote(self.run_id, stop, pause)

    def pid(self, timeout: float = 60.0) -> int:
        """The pid of the process that trains the run (on its node)."""
        return ray.get(self._actor.pid.remote(), timeout=timeout)

    def end(self) -> None:
        ray.kill(self._actor)


def answered(runs: list[ClusterRun], timeout: float) -> list[ClusterRun]:
    """The runs whose drain call has answered, waiting up to timeout for any of them."""
    if not runs:
        return []
    by_ref = {run.news(): run for run in runs}
    ready, _ = ray.wait(list(by_ref), num_returns=1, timeout=timeout)
    if ready:  # and whatever else is ready by now
        ready, _ = ray.wait(list(by_ref), num_returns=len(by_ref), timeout=0)
    return [by_ref[ref] for ref in ready]


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:300]


class RemoteRun:
    """Trains runs on a node, one at a time. Its methods run on concurrent threads: train blocks
    while drain, control and pid answer; each call names its run, so that a call meant for the
    previous run (or one that arrives before its run's train call) finds nothing."""

    def __init__(self, threads: int):
        import torch

        torch.set_num_threads(threads)
        self._news = threading.Condition()
        self._run: int | None = None
        self._events: list[tuple[Any, bytes | None]] = []
        self._done = False
        self._control = RunControl()
        self._verdicts = Verdicts(self._control.stop.is_set)
        self._folder = Path(tempfile.mkdtemp(prefix="cifar-tui-runs-"))

    def pid(self) -> int:
        return os.getpid()

    def node(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def train(
        self, run_id: int, config_json: str, dataset: Dataset, checkpoint: bytes | None, judged: bool = False
    ) -> None:
        with self._news:
            self._run, self._events, self._done, self._control = run_id, [], False, RunControl()
            self._verdicts = Verdicts(self._control.stop.is_set)
        shutil.rmtree(self._folder / str(run_id), ignore_errors=True)
        try:
            config = RunConfig.from_json(config_json)
            if checkpoint:
                path = checkpoint_path(self._folder, run_id)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(checkpoint)
            data = dataset_on(dataset, config.device)
            job = Job(run_id, config, judged)
            verdicts = self._verdicts
            run_job(job, self._emit, self._control.should_stop, self._folder, self._folder, data, verdicts.wait)
        finally:
            shutil.rmtree(self._folder / str(run_id), ignore_errors=True)
            with self._news:
                self._done = True
                self._news.notify_all()

    def drain(self, run_id: int) -> tuple[list[tuple[Any, bytes | None]], bool]:
        """The run's events since the last drain, each EpochEnd with its checkpoint's bytes, and
        whether the run has ended (nothing will follow)."""
        with self._news:
            self._news.wait_for(lambda: self._run == run_id and (self._events or self._done), DRAIN_WAIT_S)
            if self._run != run_id:
                return [], False
            events, self._events = self._events, []
            done = self._done
        return events, done

    def verdict(self, run_id: int, epoch: int, go_on: bool) -> None:
        """The dispatcher's verdict on an epoch of a judged run (its search's pruner)."""
        with self._news:
            if self._run != run_id or self._done:
                return
            verdicts = self._verdicts
        verdicts.put(epoch, go_on)

    def control(self, run_id: int, stop: bool = False, pause: bool | None = None) -> None:
        with self._news:
            if self._run != run_id or self._done:
                return
            control = self._control
        if stop:
            control.stop.set()
        if pause is not None:
            control.pause(pause)

    def _emit(self, event: Any) -> None:
        if isinstance(event, RunStarted):  # which machine of the cluster, for the people watching
            event = dataclasses.replace(event, device_name=f"{event.device_name} on {socket.gethostname()}")
        drained = self._with_checkpoint(event)  # now: the run's folder goes when the run ends
        with self._news:
            self._events.append(drained)
            self._news.notify_all()

    @staticmethod
    def _with_checkpoint(event: Any) -> tuple[Any, bytes | None]:
        if not (isinstance(event, EpochEnd) and event.checkpoint_temp):
            return event, None
        temp = Path(event.checkpoint_temp)
        data = temp.read_bytes()
        temp.unlink(missing_ok=True)
        return dataclasses.replace(event, checkpoint_temp="", checkpoint=""), data


_RemoteRunActor = ray.remote(RemoteRun)


def dataset_on(dataset: Dataset, device_name: str) -> Dataset:
    device = resolve_device(device_name)
    return dataset.to(device)
