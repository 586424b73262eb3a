"""The training loop. It knows only `emit(event)` and `should_stop()`.

Sync points (where the host waits for the device) are marked: once per loss chunk on the CPU
only, and once per epoch for the epoch's statistics. Never per step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.checkpoint import checkpoint_path, load_checkpoint, remove_pending, write_pending
from engine.config import RunConfig
from engine.data import Dataset, Split, eval_batches, load_dataset, train_batches
from engine.device import describe_device, resolve_device
from engine.events import EpochEnd, Event, RunCancelled, RunFinished, RunStarted
from engine.loss_stream import LossStream
from engine.models import build_model, count_parameters
from engine.pause_points import pause_point
from engine.schedule import lr_at
from engine.train_step import autocast, make_step, prepare_inputs, prepare_model, trial_step

EVAL_BATCH = 1000


def make_optimizer(config: RunConfig, model: nn.Module, device: torch.device) -> torch.optim.Optimizer:
    # Fused kernels exist for CUDA and the CPU; elsewhere (MPS) the default implementation runs.
    fused = {"fused": True} if config.fused and device.type in ("cuda", "cpu") else {}
    if config.compile == "cudagraphs" and device.type == "cuda" and config.optimizer == "adam":
        fused["capturable"] = True  # Adam's step counter lives on the GPU, so a graph can replay it
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
            **fused,
        )
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, **fused)


def steps_per_epoch(config: RunConfig, train_size: int, drop_last: bool = False) -> int:
    steps = train_size // config.batch_size if drop_last else math.ceil(train_size / config.batch_size)
    return min(steps, config.limit_batches) if config.limit_batches else steps


def train(
    run_id: int,
    config: RunConfig,
    emit: Callable[[Event], None],
    should_stop: Callable[[], bool] = lambda: False,
    data_dir: Path = Path("data"),
    data: Dataset | None = None,
    checkpoint_dir: Path | None = None,
) -> None:
    """Train one run to the end, emitting its events; errors propagate to the caller.

    `data` (already on the device) skips loading the dataset: benchmarks reuse one.
    With `checkpoint_dir`, each epoch end is checkpointed there, and a run that has a
    checkpoint continues from it.
    """
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    if data is None:
        data = load_dataset(config.dataset, data_dir, device)
    raw_model = build_model(config.model, len(data.classes), config.dropout, config.init).to(device)
    optimizer = make_optimizer(config, raw_model, device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    ckpt_path = checkpoint_path(checkpoint_dir, run_id) if checkpoint_dir else None
    resumed = None
    if ckpt_path is not None:
        remove_pending(ckpt_path)  # left by a process killed while writing one
        resumed = load_checkpoint(ckpt_path, device, run_id, config.to_json())
    first_epoch, step = 1, 0
    if resumed is not None:
        raw_model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        torch.set_rng_state(resumed["torch_rng"].cpu())
        if device.type == "cuda" and "cuda_rng" in resumed:  # dropout's random numbers on the GPU
            torch.cuda.set_rng_state(resumed["cuda_rng"].cpu(), device)
        generator.set_state(resumed["generator"].cpu())
        first_epoch, step = resumed["epoch"] + 1, resumed["step"]
    model = prepare_model(raw_model, config)
    if device.type == "cuda":
        # Its dropout must not draw from the RNG a resumed run just restored.
        with torch.random.fork_rng(devices=[device]):
            trial_step(model, config, device, len(data.classes))
    step_fn = make_step(model, optimizer, config, device)
    graphs = config.compile == "cudagraphs"  # a CUDA graph replays one batch shape: drop the last partial batch
    per_epoch = steps_per_epoch(config, len(data.train), drop_last=graphs)
    emit(
        RunStarted(
            run_id,
            config.to_json(),
            str(device),
            describe_device(device),
            count_parameters(raw_model),
            per_epoch,
            per_epoch * config.epochs,
            first_step=step,
        )
    )
    stream = LossStream(run_id, emit)
    scheduled, total_steps = config.lr_schedule != "constant", per_epoch * config.epochs
    run_start = time.perf_counter()
    test_loss = test_acc = float("nan")
    if first_epoch > config.epochs:  # every epoch was done before the run stopped
        test_loss, test_acc, _ = evaluate(model, data.test, len(data.classes), config)
    for epoch in range(first_epoch, config.epochs + 1):
        model.train()
        images = 0
        epoch_start = time.perf_counter()
        batches = train_batches(data.train, config.batch_size, generator, config.hflip, config.crop, drop_last=graphs)
        for _, (inputs, targets) in zip(range(per_epoch), batches):
            if should_stop():
                stream.flush()
                emit(RunCancelled(run_id, step))
                return
            if scheduled:
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, total_steps, config.lr, config.lr_schedule, warmup_steps=per_epoch)
            stream.append(step, epoch, step_fn(inputs, targets))
            step += 1
            images += targets.shape[0]
        stream.flush()  # sync: the epoch's last losses reach the host
        seconds = time.perf_counter() - epoch_start
        train_loss = stream.epoch_mean(epoch)
        test_loss, test_acc, class_acc = evaluate(model, data.test, len(data.classes), config)
        pending = ""
        if ckpt_path is not None:
            pending = str(
                write_pending(
                    ckpt_path,
                    epoch,
                    {
                        "run_id": run_id,
                        "epoch": epoch,
                        "step": step,
                        "config": config.to_json(),
                        "model": raw_model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "torch_rng": torch.get_rng_state(),
                        "generator": generator.get_state(),
                        **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}),
                    },
                )
            )
            pause_point("checkpoint-written")
        # The recorder moves the pending checkpoint into place once this epoch is recorded.
        emit(
            EpochEnd(
                run_id,
                epoch,
                step,
                train_loss,
                test_loss,
                test_acc,
                class_acc,
                seconds,
                images / seconds,
                checkpoint_temp=pending,
                checkpoint=str(ckpt_path) if pending else "",
            )
        )
    emit(RunFinished(run_id, test_acc, test_loss, time.perf_counter() - run_start))


@torch.no_grad()
def evaluate(
    model: nn.Module, split: Split, num_classes: int, config: RunConfig
) -> tuple[float, float, tuple[float, ...]]:
    """(mean loss, accuracy %, per-class accuracy %) on an unaugmented split, dropout off."""
    model.eval()
    device = split.labels.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros(num_classes, dtype=torch.int64, device=device)
    for inputs, targets in eval_batches(split, EVAL_BATCH):
        with autocast(config, device):
            outputs = model(prepare_inputs(inputs, config))
        loss_sum += F.cross_entropy(outputs.float(), targets, reduction="sum")
        hits = targets[outputs.argmax(1) == targets]
        correct += torch.bincount(hits, minlength=num_classes)
    totals = torch.bincount(split.labels, minlength=num_classes).tolist()  # sync: once per evaluation
    correct_per_class = correct.tolist()
    class_acc = tuple(100.0 * c / t if t else 0.0 for c, t in zip(correct_per_class, totals))
    return loss_sum.item() / len(split), 100.0 * sum(correct_per_class) / len(split), class_acc
