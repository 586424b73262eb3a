"""The training loop. It knows only `emit(event)` and `should_stop()`.

Sync points (where the host waits for the device) are marked: once per loss chunk on the CPU
only, and once per epoch for the epoch's statistics. Never per step.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.config import RunConfig
from engine.data import Split, load_dataset, eval_batches, train_batches
from engine.device import describe_device, resolve_device
from engine.events import EpochEnd, Event, RunCancelled, RunFinished, RunStarted
from engine.loss_stream import LossStream
from engine.models import build_model, count_parameters

EVAL_BATCH = 1000


def make_optimizer(config: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum,
            nesterov=config.nesterov, weight_decay=config.weight_decay,
        )
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def steps_per_epoch(config: RunConfig, train_size: int) -> int:
    steps = math.ceil(train_size / config.batch_size)
    return min(steps, config.limit_batches) if config.limit_batches else steps


def train(
    run_id: int,
    config: RunConfig,
    emit: Callable[[Event], None],
    should_stop: Callable[[], bool] = lambda: False,
    data_dir: Path = Path("data"),
) -> None:
    """Train one run to the end, emitting its events; errors propagate to the caller."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    data = load_dataset(config.dataset, data_dir, device)
    model = build_model(config.model, len(data.classes), config.dropout, config.init).to(device)
    optimizer = make_optimizer(config, model)
    per_epoch = steps_per_epoch(config, len(data.train))
    emit(RunStarted(
        run_id, config.to_json(), str(device), describe_device(device), count_parameters(model),
        per_epoch, per_epoch * config.epochs,
    ))
    generator = torch.Generator(device=device).manual_seed(config.seed)
    stream = LossStream(run_id, emit)
    step = 0
    run_start = time.perf_counter()
    test_loss = test_acc = float("nan")
    for epoch in range(1, config.epochs + 1):
        model.train()
        loss_sum = torch.zeros((), device=device)
        images = 0
        epoch_start = time.perf_counter()
        batches = train_batches(data.train, config.batch_size, generator, config.hflip, config.crop)
        for _, (inputs, targets) in zip(range(per_epoch), batches):
            if should_stop():
                stream.flush()
                emit(RunCancelled(run_id, step))
                return
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(inputs), targets)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            stream.append(step, epoch, loss)
            step += 1
            images += targets.shape[0]
        stream.flush()  # sync: the epoch's last losses reach the host
        seconds = time.perf_counter() - epoch_start
        train_loss = loss_sum.item() / per_epoch  # sync: once per epoch
        test_loss, test_acc, class_acc = evaluate(model, data.test, len(data.classes))
        emit(EpochEnd(run_id, epoch, step, train_loss, test_loss, test_acc, class_acc, seconds, images / seconds))
    emit(RunFinished(run_id, test_acc, test_loss, time.perf_counter() - run_start))


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, num_classes: int) -> tuple[float, float, tuple[float, ...]]:
    """(mean loss, accuracy %, per-class accuracy %) on an unaugmented split, dropout off."""
    model.eval()
    device = split.labels.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros(num_classes, dtype=torch.int64, device=device)
    for inputs, targets in eval_batches(split, EVAL_BATCH):
        outputs = model(inputs)
        loss_sum += F.cross_entropy(outputs, targets, reduction="sum")
        hits = targets[outputs.argmax(1) == targets]
        correct += torch.bincount(hits, minlength=num_classes)
    totals = torch.bincount(split.labels, minlength=num_classes).tolist()  # sync: once per evaluation
    correct_per_class = correct.tolist()
    class_acc = tuple(100.0 * c / t if t else 0.0 for c, t in zip(correct_per_class, totals))
    return loss_sum.item() / len(split), 100.0 * sum(correct_per_class) / len(split), class_acc
