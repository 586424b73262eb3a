"""The worker's command, `cifar-tui worker` and `python -m cifar_tui.tui.worker`: its options,
declared once, and what it starts (one device, a pool of devices, or a Ray dispatcher). It
imports nothing of the command line or the app, so a worker starts without them."""

from __future__ import annotations

import functools
from collections.abc import Callable

import click

from .home import Home


class WorkerInputError(ValueError):
    """A user's mistake in the worker's options: one line."""


OPTIONS = (
    click.option("--device", type=str, help="Take the runs queued for auto or for this device, and train them here."),
    click.option(
        "--devices",
        help="One worker per device, all from the queue at once: cuda:0,cuda:1 or all (cpu,cpu splits the cores).",
    ),
    click.option(
        "--ray",
        "ray_address",
        is_flag=False,
        flag_value="local",
        help="Train each run as a Ray task: --ray auto joins the cluster of `ray start`; --ray alone starts Ray here.",
    ),
    click.option(
        "--gpus-per-run",
        type=click.FloatRange(0, min_open=False),
        help="With --ray: GPUs each run asks for (default 1 on a cluster with GPUs, else 0).",
    ),
    click.option(
        "--cpus-per-run",
        type=click.FloatRange(0),
        default=1,
        show_default=True,
        help="With --ray: CPUs each run asks for (and its torch threads).",
    ),
    click.option("--until-empty", is_flag=True, help="Exit when the queue is empty instead of waiting."),
    click.option(
        "--notify",
        metavar="TARGET",
        help="When a run ends, POST its summary (JSON) to this http(s):// URL, or run this command with it "
        "on stdin (default: the home's setting notify; '' for none).",
    ),
    click.option(
        "--with-parent",
        type=int,
        hidden=True,
        help="Stop as Ctrl-C does once this process (the app it trains for) is gone.",
    ),
    click.option("--pool", hidden=True, help="The `worker --devices` process this worker is one device of."),
    click.option("--threads", type=click.IntRange(1, 4096), hidden=True, help="torch CPU threads for this worker."),
)


def worker_options(command: Callable) -> Callable:
    return functools.reduce(lambda f, option: option(f), reversed(OPTIONS), command)


def check_device(device: str) -> None:
    """The rule the app's form and `cifar-tui run` ask too (engine/device_check.py)."""
    from ...engine.config import make_config
    from ...engine.device import available_devices
    from ...engine.device_check import device_problem

    config = make_config(device=device)
    if problem := device_problem(config.device, config.compile, available_devices()):
        raise WorkerInputError(": ".join(problem))


def start(
    home: Home,
    device: str | None = None,
    devices: str | None = None,
    ray_address: str | None = None,
    gpus_per_run: float | None = None,
    cpus_per_run: float = 1,
    until_empty: bool = False,
    with_parent: int | None = None,
    pool: str | None = None,
    threads: int | None = None,
    notify: str | None = None,
) -> int:
    """Train queued runs until Ctrl-C (or an empty queue, or the parent's end); the exit status.
    WorkerInputError for options that do not fit together or a device that is not here."""
    from .notify import NotifyError, target_for

    try:
        notify = target_for(home, notify)
    except NotifyError as error:
        raise WorkerInputError(str(error)) from None
    chosen = [flag for flag, value in (("--device", device), ("--devices", devices), ("--ray", ray_address)) if value]
    if len(chosen) > 1:
        raise WorkerInputError(f"worker: {' and '.join(chosen)} exclude each other; give one")
    if ray_address is not None:
        try:
            from .ray_dispatcher import ClusterTooSmall, ClusterUnreachable, run_dispatcher
        except ImportError as error:
            if error.name != "ray":
                raise
            raise WorkerInputError("ray: Ray is not installed here; pip install 'cifar-tui[ray]'") from None
        if not gpus_per_run and not cpus_per_run:
            raise WorkerInputError("cpus-per-run: a run needs some CPUs or GPUs; give --cpus-per-run or --gpus-per-run")
        try:
            return run_dispatcher(home, ray_address, gpus_per_run, cpus_per_run, until_empty, with_parent, notify)
        except (ClusterTooSmall, ClusterUnreachable) as error:
            raise WorkerInputError(str(error)) from None
    if devices is not None:
        from ...engine.device import available_devices
        from .device_pool import DevicesError, expand_devices, run_pool

        try:
            names = expand_devices(devices, available_devices())
        except DevicesError as error:
            raise WorkerInputError(str(error)) from None
        for name in dict.fromkeys(names):
            check_device(name)
        return run_pool(home, names, until_empty, with_parent, notify)
    from .headless import run_worker

    if device is not None:
        check_device(device)
    return run_worker(home, device, until_empty, with_parent, pool, threads, notify)
