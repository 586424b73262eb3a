"""`cifar-tui bench gpu`: the CUDA path proven by one command, for a session that gets a GPU for
minutes. It measures speed (the tutorial's pipeline, the engine eager and with its step in one
CUDA graph), what recording every batch costs, whether the graph trains like eager, whether a
batch too large for the device is refused before training, and whether a resumed run trains like
a straight one. On a CPU it runs the sections that make sense there and names the others as
skipped. The last line printed is one JSON object, whatever happened.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from ...engine.config import RunConfig, make_config
from ...engine.events import EpochEnd, Losses

MODELS = {"seed-cnn": "seed-cnn", "seed-resnet": "seed-resnet", "resnet18": "seed-resnet18"}  # model: its preset
GRAPH_STEPS = 50  # cudagraphs against eager, from the same weights and batches


def bench_gpu(device_name: str = "auto", quick: bool = False, data_dir: Path | None = None) -> dict[str, Any]:
    import torch

    from ...engine.device import describe_device, resolve_device

    device = resolve_device(device_name)
    cuda = device.type == "cuda"
    result: dict[str, Any] = {
        "device": str(device),
        "device_name": describe_device(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "free_memory_gib": round(torch.cuda.mem_get_info(device)[0] / 2**30, 1) if cuda else None,
        "skipped": [],
    }
    sections = [
        ("speed", lambda: _speed(result, device, quick)),
        ("seed-resnet b512 bf16", lambda: _big_batch(result, device, quick)),
        ("logging overhead", lambda: _logging_overhead(result, device, quick)),
        ("cudagraphs vs eager", lambda: _graph_matches_eager(result, device)),
        ("memory pre-check", lambda: _memory_precheck(result, device)),
        ("resume", lambda: _resume_matches_straight(result, device)),
        ("speedrun on CIFAR-10", lambda: real_speedrun(result, device, quick, data_dir)),
    ]
    for name, section in sections:
        started = time.perf_counter()
        try:
            section()
        except Exception as error:  # one section's failure is a finding, not the end of the bench
            result[f"{name} error"] = (
                f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
            )
        result[f"{name} s"] = round(time.perf_counter() - started, 1)
    return result


def real_speedrun(result: dict[str, Any], device, quick: bool, data_dir: Path | None) -> None:
    """The speedrun preset on real CIFAR-10, when the home holds it (the last section: the
    others need no data): its accuracy and seconds, the second of two runs (the first warms up)."""
    from ...engine.cifar_files import CIFAR10
    from ...engine.datasets import load_dataset
    from ...engine.train import train

    if data_dir is None or not (data_dir / CIFAR10.folder).is_dir():
        result["skipped"].append(f"speedrun on CIFAR-10 (no {CIFAR10.folder}/ in the home's data folder)")
        return
    if device.type != "cuda" and not quick:
        result["skipped"].append("speedrun on CIFAR-10 (minutes on a CPU; --quick trains 2 batches an epoch)")
        return
    data = load_dataset("cifar10", data_dir, device)
    config = make_config("speedrun", device=str(device))
    if quick:
        config = config.replace(epochs=2, limit_batches=2, batch_size=64, precision="fp32")
    ends: list[EpochEnd] = []
    for seed in (0, 1):
        ends.clear()
        started = time.perf_counter()
        train(0, config.replace(seed=seed), lambda e: ends.append(e) if isinstance(e, EpochEnd) else None, data=data)
    result["speedrun on CIFAR-10"] = {
        "test_acc": round(ends[-1].test_acc, 2),
        "train_s": round(sum(e.seconds for e in ends), 3),
        "wall_s": round(time.perf_counter() - started, 3),
        "images": len(data.train),
    }


def _data(device, batches: int, batch_size: int = 64):
    from ...engine.data import synthetic

    dataset = synthetic(n_train=batches * batch_size, n_test=1000)
    return dataset, dataset.to(device)


def engine_rate(config: RunConfig, data, emit=lambda event: None) -> float:
    """Images/s of the engine's epoch (evaluation excluded), as its EpochEnd reports it."""
    from ...engine.train import train

    ends: list[EpochEnd] = []

    def both(event) -> None:
        emit(event)
        if isinstance(event, EpochEnd):
            ends.append(event)

    train(0, config, both, data=data)
    return ends[-1].images_per_s


def _speed(result: dict[str, Any], device, quick: bool) -> None:
    from ...engine.tutorial_pipeline import tutorial_images_per_s

    cuda = device.type == "cuda"
    batches = (100 if quick else 300) if cuda else (30 if quick else 100)
    dataset, on_device = _data(device, batches)
    for model, preset in MODELS.items():
        if model == "resnet18" and not cuda and quick:
            result["skipped"].append("resnet18 speed (a CPU with --quick)")
            continue
        config = make_config(preset, model=model, dataset="synthetic", device=str(device), epochs=1,
                             limit_batches=batches, compile="off")  # fmt: skip
        engine_rate(config.replace(limit_batches=10), on_device)  # warm-up: kernels, allocator
        tutorial = tutorial_images_per_s(config, dataset.train, max_batches=batches)
        eager = engine_rate(config, on_device)
        result[f"{model} tutorial img/s"] = round(tutorial)
        result[f"{model} eager img/s"] = round(eager)
        result[f"{model} eager x tutorial"] = round(eager / tutorial, 2)
        if cuda:
            graphs = engine_rate(config.replace(compile="cudagraphs"), on_device)
            result[f"{model} cudagraphs img/s"] = round(graphs)
            result[f"{model} cudagraphs x tutorial"] = round(graphs / tutorial, 2)
    if not cuda:
        result["skipped"].append("cudagraphs speed (needs CUDA)")


def _big_batch(result: dict[str, Any], device, quick: bool) -> None:
    cuda = device.type == "cuda"
    batches = (20 if quick else 60) if cuda else 4
    _, on_device = _data(device, batches, 512)
    config = make_config("seed-resnet", dataset="synthetic", device=str(device), epochs=1, batch_size=512,
                         limit_batches=batches, precision="bf16", channels_last=True, compile="off")  # fmt: skip
    engine_rate(config.replace(limit_batches=2), on_device)
    result["seed-resnet b512 bf16 img/s"] = round(engine_rate(config, on_device))


def _logging_overhead(result: dict[str, Any], device, quick: bool) -> None:
    """seed-cnn, where a step is shortest (in a CUDA graph on CUDA): recorded into a store and
    followed, against the same run with nowhere to send its events. Alternated, best of each."""
    from ...store.recorder import Recorder
    from ...store.runs import RunStore
    from ..live_state import LiveState
    from .training import as_run

    cuda = device.type == "cuda"
    batches = (200 if quick else 600) if cuda else (40 if quick else 150)
    _, on_device = _data(device, batches)
    config = make_config("seed-cnn", dataset="synthetic", device=str(device), epochs=1, limit_batches=batches,
                         compile="cudagraphs" if cuda else "off")  # fmt: skip
    engine_rate(config.replace(limit_batches=10), on_device)
    alone, recorded = [], []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runs.db"
        store = RunStore(path)
        store.enqueue(config.to_dict())
        for _ in range(2):
            alone.append(engine_rate(config, on_device))
            recorder = Recorder(path, forward=[LiveState().apply])
            recorded.append(engine_rate(config, on_device, lambda event, r=recorder: r(as_run(event, 1))))
            recorder.close()
        rows = store.loss_count(1)
        store.close()
    result["logging overhead"] = round(1 - max(recorded) / max(alone), 4)
    result["logging step"] = "cudagraphs" if cuda else "eager (no CUDA)"
    result["loss rows recorded"] = rows


def graph_and_eager_losses(device, steps: int = GRAPH_STEPS) -> tuple[list[float], list[float]]:
    """Per-step losses of the CUDA-graph step and of the eager step, each from the same weights
    on the same batches (seed-cnn without dropout, deterministic kernels)."""
    import torch

    from ...engine.models import build_model
    from ...engine.train import make_optimizer
    from ...engine.train_step import make_step

    config = make_config("seed-cnn", dataset="synthetic", device=str(device), dropout=0.0, compile="cudagraphs")
    torch.manual_seed(0)
    weights = build_model(config.model, 10, 0.0, config.init).to(device).state_dict()
    generator = torch.Generator(device=device).manual_seed(0)
    batches = [
        (torch.randn(64, 3, 32, 32, device=device, generator=generator),
         torch.randint(0, 10, (64,), device=device, generator=generator))
        for _ in range(steps)
    ]  # fmt: skip
    losses = []
    for run_config in (config, config.replace(compile="off")):
        torch.use_deterministic_algorithms(True, warn_only=True)
        model = build_model(config.model, 10, 0.0, config.init).to(device)
        model.load_state_dict(weights)
        step = make_step(model, make_optimizer(run_config, model, device), run_config, device)
        losses.append([step(inputs, targets).item() for inputs, targets in batches])
    torch.use_deterministic_algorithms(False)
    return losses[0], losses[1]


def _graph_matches_eager(result: dict[str, Any], device) -> None:
    if device.type != "cuda":
        result["skipped"].append("cudagraphs vs eager (needs CUDA)")
        return
    graph, eager = graph_and_eager_losses(device)
    result["cudagraphs vs eager max loss diff"] = max(abs(a - b) for a, b in zip(graph, eager))


def _memory_precheck(result: dict[str, Any], device) -> None:
    """A batch far too large for the device is refused with the batch-size message before any
    training, and the device trains a normal batch afterwards."""
    if device.type != "cuda":
        result["skipped"].append("memory pre-check (needs CUDA)")
        return
    import torch

    from ...engine.worker import Job, run_job

    events: list = []
    # resnet18-cifar keeps 32x32 maps in its first stage: ~4.5 MiB of activations an image, ~290 GiB
    # at this batch, more than any one GPU has (torchvision's resnet18 fits it on an H200).
    huge = make_config("resnet18-cifar", dataset="synthetic", device=str(device), epochs=1, batch_size=65_536,
                       limit_batches=1)  # fmt: skip
    run_job(Job(0, huge), events.append, lambda: False, Path(tempfile.gettempdir()))
    refused = events[-1]
    result["memory pre-check message"] = getattr(refused, "error", type(refused).__name__)
    result["memory pre-check trained a step"] = any(isinstance(e, Losses) for e in events)
    _, on_device = _data(device, 5)
    small = huge.replace(batch_size=64, limit_batches=5)
    result["device usable after"] = engine_rate(small, on_device) > 0
    result["free memory after gib"] = round(torch.cuda.mem_get_info(device)[0] / 2**30, 1)


def _resume_matches_straight(result: dict[str, Any], device) -> None:
    """3 epochs straight against 2 epochs, a stop, and 1 resumed from the checkpoint: the same
    losses step by step (the checkpoint carries every RNG, the CUDA one included)."""
    from ...engine.train import train

    _, on_device = _data(device, 20)
    config = make_config("seed-cnn", dataset="synthetic", device=str(device), epochs=3, limit_batches=20,
                         compile="off")  # fmt: skip

    def losses(run_config: RunConfig, folder: Path, run_id: int) -> dict[int, float]:
        seen: dict[int, float] = {}

        def keep(event) -> None:
            if isinstance(event, Losses):
                seen.update({event.first_step + i: loss for i, loss in enumerate(event.losses)})
            if isinstance(event, EpochEnd) and event.checkpoint_temp:
                from ...engine.checkpoint import commit

                commit(event.checkpoint_temp, event.checkpoint)  # as the recorder would

        train(run_id, run_config, keep, data=on_device, checkpoint_dir=folder)
        return seen

    modes = ("off", "cudagraphs") if device.type == "cuda" else ("off",)
    for mode in modes:
        mode_config = config.replace(compile=mode)
        with tempfile.TemporaryDirectory() as folder:
            straight = losses(mode_config, Path(folder) / "straight", 1)
            resumed = losses(mode_config.replace(epochs=2), Path(folder) / "split", 2)
            resumed.update(losses(mode_config, Path(folder) / "split", 2))
        suffix = "" if mode == "off" else f" {mode}"
        result[f"resume max loss diff{suffix}"] = max(abs(straight[s] - resumed[s]) for s in straight)
        result[f"resume steps compared{suffix}"] = len(straight)
