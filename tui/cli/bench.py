"""The benchmarks: training speed, the store, datasets, searches, the run table, the app, the GPU, the queue,
and a chaos soak of the queue under faults."""

from __future__ import annotations

import sys

import click

from ...engine.config import make_config
from ...store.study import PRUNERS, SEARCHES
from ..bench.chaos import EVERY_S
from ..worker.home import Home
from .root import SMALL_STORE, BadInput, check_device, cli


@cli.group(invoke_without_command=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--model", default="seed-cnn", show_default=True)
@click.option("--quick", is_flag=True, help="Fewer batches: under a minute on a laptop CPU.")
@click.pass_context
def bench(ctx: click.Context, device: str, model: str, quick: bool) -> None:
    """Images/s of the tutorial's pipeline, the engine, and the engine while recording.

    The last line printed is one JSON object.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ...engine.models import MODELS
    from ..bench.report import print_result
    from ..bench.training import bench_training

    if model not in MODELS:
        raise BadInput(f"model: unknown model {model!r}; allowed: {', '.join(MODELS)}")
    config = make_config(device=device)  # validates the device's spelling
    check_device(config)
    print_result(bench_training(model, device, quick), f"Training speed: {model}")


@bench.command("store")
@click.option("--quick", is_flag=True, help="50 runs x 20,000 steps instead of 200 x 20,000.")
def bench_store_command(quick: bool) -> None:
    """Loss rows inserted per second, run listing and chart-curve query times."""
    from ..bench.report import print_result
    from ..bench.training import bench_store

    print_result(bench_store(quick), "Store at scale")


@bench.command("datasets")
@click.argument("names", nargs=-1, required=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--batches", type=click.IntRange(1, 100_000), default=150, show_default=True)
@click.pass_obj
def bench_datasets_command(home: Home, names: tuple[str, ...], device: str, batches: int) -> None:
    """Each dataset's load time and training speed (seed-cnn), against the first named:
    `cifar-tui bench datasets cifar10 cifar100 folder:PATH`."""
    from ..bench.datasets import bench_datasets
    from ..bench.report import print_result

    configs = [make_config(dataset=name, device=device) for name in names]  # each mistake in one line first
    check_device(configs[0])
    print_result(bench_datasets([c.dataset for c in configs], home.data_dir, device, batches), "Datasets")


@bench.command("augment")
@click.option("--device", default="auto", show_default=True)
@click.option(
    "--batches", type=click.IntRange(1, 100_000), default=150, show_default=True, help="Training steps a run."
)
@click.option(
    "--images",
    type=click.IntRange(512, 10_000_000),
    default=8192,
    show_default=True,
    help="Images each augmentation alone.",
)
def bench_augment_command(device: str, batches: int, images: int) -> None:
    """Each augmentation's cost to seed-cnn's training speed, and its speed alone against
    torchvision.transforms.v2 per image in a DataLoader (a worker per core)."""
    from ..bench.augment import bench_augment
    from ..bench.report import print_result

    check_device(make_config(device=device))
    print_result(bench_augment(device, batches, images), "Augmentations")


@bench.command("search")
@click.option("--trials", type=click.IntRange(1, 1000), default=14, show_default=True)
@click.option("--batches", type=click.IntRange(1, 100_000), default=40, show_default=True, help="An epoch's batches.")
@click.option("--search", type=click.Choice(SEARCHES), default="tpe", show_default=True)
@click.option("--prune", type=click.Choice(PRUNERS), default="median", show_default=True)
@click.option(
    "--objectives",
    metavar="COL,COL",
    help="A search of several objectives (test_acc,seconds): its Pareto front against the grid's "
    "(--search defaults to nsga2 then; no pruning).",
)
def bench_search_command(trials: int, batches: int, search: str, prune: str, objectives: str | None) -> None:
    """A search against the full grid of the same space (synthetic data, CPU): each one's best
    test accuracy, epochs trained and time; with --objectives, each one's Pareto front."""
    from ...engine.config import ConfigError
    from ...store.study import StudySettings
    from ..bench.report import print_result
    from ..bench.search import bench_search, bench_search_front

    if objectives is None:
        print_result(bench_search(trials, batches, search, prune), "Search against the grid")
        return
    search = "nsga2" if click.get_current_context().get_parameter_source("search").name == "DEFAULT" else search
    try:
        StudySettings(search, trials, objective=objectives).checked()
    except ConfigError as error:
        raise BadInput(str(error)) from None
    print_result(
        bench_search_front(trials, batches, objectives, search), "A search of several objectives against the grid"
    )


@bench.command("ui")
@click.option("--runs", type=click.IntRange(SMALL_STORE + 1, 100_000), default=10_000, show_default=True)
def bench_ui_command(runs: int) -> None:
    """The run table at scale: N runs x 3 epochs against 100, the same operations timed on both."""
    from ..bench.report import print_result
    from ..bench.ui import bench_ui

    print_result(bench_ui(runs), f"Run table at {runs:,} runs")


@bench.command("app")
@click.option("--device", default="auto", show_default=True)
@click.option("--engine", type=click.Choice(["process", "thread"]), default="process", show_default=True)
@click.option("--quick", is_flag=True, help="200 batches an epoch instead of 600.")
def bench_app_command(device: str, engine: str, quick: bool) -> None:
    """Training speed with the Live view open, against the same run without the app."""
    from ..bench.report import print_result
    from ..bench.training import bench_app

    check_device(make_config(device=device))
    print_result(bench_app(device, quick, engine), "Training under the app")


@bench.command("gpu")
@click.option("--device", default="auto", show_default=True, help="cuda, cuda:N (cpu runs what makes sense there).")
@click.option("--quick", is_flag=True, help="Fewer batches: about 90 s on an H100.")
@click.pass_obj
def bench_gpu_command(home: Home, device: str, quick: bool) -> None:
    """The CUDA path in one command: speed against the tutorial, CUDA graphs, logging overhead,
    graph-vs-eager losses, the memory pre-check, resume, and the speedrun on real CIFAR-10 when
    the home's data folder holds it. The last line is one JSON object."""
    from ..bench.gpu import bench_gpu
    from ..bench.report import print_result

    check_device(make_config(device=device))
    print_result(bench_gpu(device, quick, home.data_dir), "The GPU path")


@bench.command("scale")
@click.option(
    "--devices", help="The `worker --devices` list to compare with one worker (default: every GPU, or cpu,cpu)."
)
@click.option("--runs", type=click.IntRange(1, 1000), default=4, show_default=True)
@click.option("--batches", type=click.IntRange(1, 100_000), default=150, show_default=True, help="Batches per run.")
@click.option("--no-ray", is_flag=True, help="Leave Ray out.")
def bench_scale_command(devices: str | None, runs: int, batches: int, no_ray: bool) -> None:
    """The queue's wall time for N small runs: one worker, a worker per device, and Ray."""
    from ...engine.device import available_devices
    from ..bench.report import print_result
    from ..bench.scale import bench_scale
    from ..worker.device_pool import DevicesError, expand_devices

    try:
        names = expand_devices(devices or "all", available_devices())
    except DevicesError as error:
        raise BadInput(str(error)) from None
    if len(names) == 1 and devices is None:
        names = names * 2  # one device: two runs share it (the CPU's cores split between them)
    for name in dict.fromkeys(names):
        check_device(make_config(device=name))
    print_result(bench_scale(",".join(names), runs, batches, not no_ray), f"The queue on {len(names)} devices")


@bench.command("chaos")
@click.option("--runs", type=click.IntRange(10, 10_000), default=200, show_default=True, help="Tiny runs queued.")
@click.option(
    "--seconds", type=click.FloatRange(1, 86_400), default=600, show_default=True, help="How long faults go on."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the faults' kinds, targets and times.")
@click.option(
    "--every", type=click.FloatRange(0.5, 600), default=EVERY_S, show_default=True, help="Seconds between faults."
)
@click.option("--no-ray", is_flag=True, help="Leave the Ray dispatcher out.")
def bench_chaos_command(runs: int, seconds: float, seed: int, every: float, no_ray: bool) -> None:
    """A chaos soak on a fresh home: tiny runs (a sweep and a search) trained by workers, a
    --devices pool and Ray while workers, training children and the dispatcher are killed, stopped
    and locked out; then a drain and the store's invariants. Exit status 1 when one failed."""
    from ..bench.chaos import figures, soak_fresh
    from ..bench.report import print_result

    result = soak_fresh(runs, seconds, seed, not no_ray, every)
    print_result(figures(result), f"Chaos soak: {runs} runs, {seconds:g} s of faults")
    if not result["held"]:
        sys.exit(1)
