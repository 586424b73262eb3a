"""The training loop. It knows only `emit(event)` and `should_stop()`.

Sync points (where the host waits for the device) are marked: once per loss chunk on the CPU
only, and once per epoch for the epoch's statistics. Never per step.
"""

from __future__ import annotations

import base64
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from .augment import batch_augment
from .checkpoint import checkpoint_path, load_checkpoint, remove_pending, write_pending
from .config import RunConfig
from .data import (
    Dataset,
    Split,
    alternating_flips,
    eval_batches,
    normalize,
    train_batches,
)
from .datasets import load_dataset
from .device import (
    describe_device,
    memory_total,
    memory_used,
    peak_memory,
    resolve_device,
    start_peak_memory,
)
from .environment import environment_json
from .events import EpochEnd, Event, RunCancelled, RunFinished, RunPruned, RunStarted
from .held_out import evaluate_sets
from .held_out import prepare as prepare_held_out
from .lookahead import Lookahead
from .loss_stream import LossStream
from .mixing import Mixer, make_mixer
from .models import build_model, count_parameters
from .muon import MUON_MOMENTUM, Muon
from .notices import notice
from .pause_points import pause_point
from .policies import make_policy
from .schedule import rate_at
from .timm_models import is_timm_model, stem_notice
from .train_step import (
    autocast,
    cast_model,
    make_step,
    prepare_inputs,
    prepare_model,
    resolve_compile,
    trial_step,
)
from .user_model import check_output
from .weight_average import WeightAverage, add_to_swa, make_ema, make_swa

EVAL_BATCH = 1000
STEP_KINDS = {"cudagraphs": ", CUDA graph", "default": ", torch.compile"}  # said after the device's name


def make_optimizer(
    config: RunConfig, model: nn.Module, device: torch.device, per_epoch: int = 1
) -> torch.optim.Optimizer:
    params = parameter_groups(model, config, per_epoch)
    if config.optimizer == "muon":
        return Muon(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    # Fused kernels exist for CUDA and the CPU; elsewhere (MPS) the default implementation runs.
    fused = {"fused": True} if config.fused and device.type in ("cuda", "cpu") else {}
    if config.compile == "cudagraphs" and device.type == "cuda" and config.optimizer in ("adam", "adamw"):
        fused["capturable"] = True  # Adam's step counter lives on the GPU, so a graph can replay it
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
            **fused,
        )
    adam = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return adam(params, lr=config.lr, weight_decay=config.weight_decay, **fused)


def parameter_groups(model: nn.Module, config: RunConfig, per_epoch: int = 1) -> list[dict]:
    """The optimizer's groups. Each has an lr_scale (the schedule's rate is multiplied by it) and
    may have `steps`, the steps it trains for (its schedule squeezed into them, then rate 0).

    - BatchNorm biases, with bias_lr_scale: that many times the rate, their weight decay divided
      by the same factor (the same decay per step).
    - muon: the convolution filters take Muon at muon_lr, momentum 0.6 (no weight decay).
    - The whitening layer's bias (airbench's), with whiten_bias_epochs or muon, in a group of its
      own that trains that many epochs: under muon at the biases' rate (airbench94_muon's), else
      at the base rate (airbench94's).
    """
    trained = [p for p in model.parameters() if p.requires_grad]
    muon = config.optimizer == "muon"
    whitening = getattr(model, "whitening_bias", None)
    whitening = whitening if whitening is not None and whitening.requires_grad else None
    biases = {
        id(m.bias)
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.bias is not None and m.bias.requires_grad
    }
    filters = {id(p) for p in trained if p.ndim == 4} if muon else set()
    alone = {id(whitening)} if whitening is not None and (config.whiten_bias_epochs or muon) else set()
    scale = config.bias_lr_scale

    def group(ids: set[int], lr_scale: float, **options) -> dict:
        return {
            "params": [p for p in trained if id(p) in ids],
            "lr": config.lr * lr_scale,
            "weight_decay": config.weight_decay / lr_scale,
            "lr_scale": lr_scale,
            **options,
        }

    split_biases = biases if scale != 1.0 else set()
    groups = [group({id(p) for p in trained} - split_biases - filters - alone, 1.0)]
    if split_biases:
        groups.append(group(split_biases, scale))
    if filters:
        groups.append(group(filters, config.muon_lr / config.lr, weight_decay=0.0, momentum=MUON_MOMENTUM, muon=True))
    if alone:
        steps = {"steps": config.whiten_bias_epochs * per_epoch} if config.whiten_bias_epochs else {}
        groups.append(group(alone, scale if muon else 1.0, **steps))
    return [g for g in groups if g["params"]]


def steps_per_epoch(config: RunConfig, train_size: int, drop_last: bool = False) -> int:
    drop_last = drop_last and train_size >= config.batch_size  # a set smaller than a batch is one batch
    steps = train_size // config.batch_size if drop_last else math.ceil(train_size / config.batch_size)
    return min(steps, config.limit_batches) if config.limit_batches else steps


def steps_in_epoch(config: RunConfig, per_epoch: int, epoch: int) -> int:
    """Every epoch's steps, but the last's share of them (airbench's 9.9 epochs: 0.9 of the 10th)."""
    if epoch < config.epochs:
        return per_epoch
    return max(1, math.ceil(config.last_epoch_share * per_epoch))


def total_steps(config: RunConfig, per_epoch: int) -> int:
    return per_epoch * (config.epochs - 1) + steps_in_epoch(config, per_epoch, config.epochs)


@dataclass
class Trained:
    """What a run trains and what a checkpoint restores."""

    raw_model: nn.Module  # the weights, as checkpointed
    model: nn.Module  # what runs the steps (wrapped for channels_last or compiled)
    optimizer: torch.optim.Optimizer
    generator: torch.Generator  # shuffling and augmentation
    first_epoch: int = 1
    step: int = 0
    lookahead: Lookahead | None = None
    mixer: Mixer | None = None  # mixup/cutmix's batch-level draws
    ema: WeightAverage | None = None  # --ema: the average of the weights, what the test set sees
    swa: AveragedModel | None = None  # --swa-start: the equal average, what the test set sees once it has begun

    @property
    def average(self) -> nn.Module | None:
        """The averaged model the test set sees: the EMA, or the SWA once an epoch is in it."""
        if self.ema is not None:
            return self.ema.module
        return self.swa.module if self.swa is not None and int(self.swa.n_averaged) > 0 else None

    @property
    def evaluated(self) -> nn.Module:
        """The model the test set and the held-out sets are scored with."""
        average = self.average
        return average if average is not None else self.model


def train(
    run_id: int,
    config: RunConfig,
    emit: Callable[[Event], None],
    should_stop: Callable[[], bool] = lambda: False,
    data_dir: Path = Path("data"),
    data: Dataset | None = None,
    checkpoint_dir: Path | None = None,
    go_on: Callable[[EpochEnd], bool] | None = None,
) -> None:
    """Train one run to the end, emitting its events; errors propagate to the caller.

    `data` (already on the device) skips loading the dataset: benchmarks reuse one.
    With `checkpoint_dir`, each epoch end is checkpointed there, and a run that has a
    checkpoint continues from it. `go_on` judges each epoch but the last (a search's pruner):
    False stops the run there, pruned.
    """
    device = resolve_device(config.device)
    be_deterministic(config.deterministic)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = config.cudnn_benchmark and not config.deterministic
    torch.manual_seed(config.seed)
    if data is None:
        data = load_dataset(config.dataset, data_dir, device)
    held_out = prepare_held_out(config.eval_on, data.classes, data_dir) if config.eval_on else []
    ckpt_path = checkpoint_path(checkpoint_dir, run_id) if checkpoint_dir else None
    speed = resolve_compile(config, device)  # how each step runs; checkpoints and events keep `config`
    drop_last = config.drop_last or speed.compile == "cudagraphs"  # a CUDA graph replays one batch shape
    per_epoch = steps_per_epoch(config, len(data.train), drop_last)
    total = total_steps(config, per_epoch)
    state = build(speed, device, data, per_epoch)
    if config.lookahead:
        state.lookahead = Lookahead(state.raw_model, total)
    if ckpt_path is not None:
        remove_pending(ckpt_path)  # left by a process killed while writing one
        restore(state, load_checkpoint(ckpt_path, device, run_id, config.to_json()), device)
    state.model = prepare_model(state.raw_model, speed)
    for average in (state.ema, state.swa):
        if average is not None and speed.channels_last:  # averaged in the layout the weights train in
            average.module.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        # Its dropout must not draw from the RNG a resumed run just restored.
        with torch.random.fork_rng(devices=[device]):
            trial_step(state.model, config, device, len(data.classes))
    step_fn = make_step(state.model, state.optimizer, speed, device)
    emit(
        RunStarted(
            run_id,
            config.to_json(),
            str(device),
            describe_device(device) + STEP_KINDS.get(speed.compile, ""),
            count_parameters(state.raw_model),
            per_epoch,
            total,
            first_step=state.step,
            memory_total=memory_total(device),
            classes=data.classes,
            environment=environment_json(device, data.files),
        )
    )
    stream = LossStream(run_id, emit, memory=lambda: memory_used(device))
    run_start = time.perf_counter()
    test_loss = test_acc = float("nan")
    test_split = evaluated_part(config, data)
    swa_bn_part = bn_statistics_part(config, data) if state.swa is not None else None
    if state.first_epoch > config.epochs:  # every epoch was done before the run stopped
        final = evaluate(state.evaluated, test_split, len(data.classes), config)
        test_loss, test_acc = final.loss, final.acc
    for epoch in range(state.first_epoch, config.epochs + 1):
        start_peak_memory(device)
        epoch_start = time.perf_counter()
        trained = train_epoch(state, step_fn, data.train, config, epoch, per_epoch, drop_last, stream, should_stop)
        if trained is None:
            emit(RunCancelled(run_id, state.step))
            return
        images, held = trained
        if state.swa is not None and epoch > config.swa_start:
            add_to_swa(state.swa, state.raw_model, (x for x, _ in eval_batches(swa_bn_part, EVAL_BATCH)))
        seconds = time.perf_counter() - epoch_start - held  # a pause is not training time
        train_loss = stream.epoch_mean(epoch)
        # Test-time augmentation costs several forward passes: airbench's way, only the last
        # epoch's evaluation (the run's result) has it; the epochs before are evaluated plainly.
        evaluated_as = config if epoch == config.epochs else config.replace(tta="off")
        result = evaluate(state.evaluated, test_split, len(data.classes), evaluated_as)
        test_loss, test_acc = result.loss, result.acc
        raw = (
            evaluate(state.model, test_split, len(data.classes), evaluated_as).acc
            if state.average is not None
            else None
        )
        pending = write_checkpoint(ckpt_path, run_id, epoch, config, state, device) if ckpt_path else ""
        # The recorder moves the pending checkpoint into place once this epoch is recorded.
        ended = EpochEnd(
            run_id,
            epoch,
            state.step,
            train_loss,
            test_loss,
            test_acc,
            result.class_acc,
            seconds,
            images / seconds,
            memory_peak=peak_memory(device),
            lr=state.optimizer.param_groups[0]["lr"],
            confusion=result.confusion,
            wrong_labels=result.wrong_labels,
            wrong_images=result.wrong_images,
            eval_images=len(test_split) if len(test_split) < len(data.test) else 0,
            raw_test_acc=raw,
            checkpoint_temp=pending,
            checkpoint=str(ckpt_path) if pending else "",
        )
        emit(ended)
        if held_out and (config.eval_every_epoch or epoch == config.epochs):
            evaluate_sets(
                held_out,
                scorer(state.evaluated, len(data.classes), evaluated_as),
                device,
                run_id,
                epoch,
                test_acc,
                emit,
            )
        if go_on is not None and epoch < config.epochs and not go_on(ended):
            emit(RunPruned(run_id, epoch, state.step))
            return
    emit(RunFinished(run_id, test_acc, test_loss, time.perf_counter() - run_start))


def be_deterministic(on: bool) -> None:
    """Set for each run, both ways: a training process trains job after job."""
    if on:
        # cuBLAS repeats itself only with a fixed workspace; read when it first starts in this
        # process, so a process whose first run was not deterministic may still differ on CUDA.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(on, warn_only=True)
    torch.backends.cudnn.deterministic = on


def evaluated_part(config: RunConfig, data: Dataset) -> Split:
    """The test images each evaluation covers: all of them, or --limit-eval-batches batches'
    worth; by default (-1) as large a share of the test set as --limit-batches trains on of the
    training set, so that a quick check is quick at evaluation too. A part is a fixed,
    class-stratified sample (stratified_sample), never the first images: a test set stored class
    by class would otherwise be measured on one class."""
    limit = config.limit_eval_batches
    if limit == -1:
        if not config.limit_batches:
            return data.test
        share = min(1.0, config.limit_batches * config.batch_size / len(data.train))
        limit = max(1, math.ceil(share * len(data.test) / config.batch_size))
    images = limit * config.batch_size
    if limit == 0 or images >= len(data.test):
        return data.test
    chosen = stratified_sample(data.test.labels, images).to(data.test.labels.device)
    return Split(data.test.images[chosen], data.test.labels[chosen])


def bn_statistics_part(config: RunConfig, data: Dataset) -> Split:
    """The training images update_bn sees: all of them, or with --limit-batches as many as an
    epoch trains on (a class-stratified sample: a folder's images come class by class)."""
    count = config.limit_batches * config.batch_size
    if not config.limit_batches or count >= len(data.train):
        return data.train
    chosen = stratified_sample(data.train.labels, count).to(data.train.labels.device)
    return Split(data.train.images[chosen], data.train.labels[chosen])


EVAL_SAMPLE_SEED = 0  # not the run's seed: every run of a group is measured on the same images


def stratified_sample(labels: torch.Tensor, count: int, seed: int = EVAL_SAMPLE_SEED) -> torch.Tensor:
    """The indices (ascending) of `count` items, each class in proportion to its share of labels,
    chosen in a fixed seeded order: the same labels and count give the same items."""
    labels = labels.cpu()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    shuffled = labels[order]
    counts = torch.bincount(shuffled)
    # Each item's rank among its class in the seeded order, as a fraction of the class: taking the
    # smallest fractions first takes every class in proportion, whatever count is.
    by_class = torch.argsort(shuffled, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(by_class)
    rank[by_class] = torch.arange(len(shuffled)) - starts[shuffled[by_class]]
    share = (rank.double() + 0.5) / counts[shuffled].double()
    return order[torch.argsort(share, stable=True)[:count]].sort().values


DATA_INIT_IMAGES = 5000  # training images a model's data_init sees (airbench whitens on 5,000)


def build(config: RunConfig, device: torch.device, data: Dataset, per_epoch: int = 1) -> Trained:
    """The model (initialised from data if it asks: data_init(images), as airbench's whitening
    layer does), its optimizer and the generator of its data order and augmentation."""
    num_classes = len(data.classes)
    raw_model = build_model(config.model, num_classes, config.dropout, config.init, config.model_source).to(device)
    if config.model_source or is_timm_model(config.model):  # the wrong input or output fails now, not mid-epoch
        check_output(raw_model, config.model, num_classes, device)
    if is_timm_model(config.model) and (words := stem_notice(config.model, raw_model)):
        notice(words)
    if hasattr(raw_model, "data_init"):
        with torch.no_grad():
            raw_model.data_init(normalize(data.train.images[:DATA_INIT_IMAGES]))
    cast_model(raw_model, config)  # before the optimizer: its state follows the weights' dtype
    optimizer = make_optimizer(config, raw_model, device, per_epoch)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    mixer, ema = make_mixer(config, num_classes), make_ema(raw_model, config.ema, config.ema_warmup)
    swa = make_swa(raw_model, config.swa_start)
    return Trained(raw_model, raw_model, optimizer, generator, mixer=mixer, ema=ema, swa=swa)


def restore(state: Trained, checkpoint: dict | None, device: torch.device) -> None:
    """Continue from a checkpoint (None: start afresh): weights, optimizer, every RNG, position."""
    if checkpoint is None:
        return
    state.raw_model.load_state_dict(checkpoint["model"])
    state.optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["torch_rng"].cpu())
    if device.type == "cuda" and "cuda_rng" in checkpoint:  # dropout's random numbers on the GPU
        torch.cuda.set_rng_state(checkpoint["cuda_rng"].cpu(), device)
    state.generator.set_state(checkpoint["generator"].cpu())
    if state.lookahead is not None and "lookahead" in checkpoint:
        state.lookahead.load_state_dict(checkpoint["lookahead"])
    if state.mixer is not None and "mixer" in checkpoint:
        state.mixer.restore(checkpoint["mixer"])
    if state.ema is not None and "ema" in checkpoint:
        state.ema.load_state_dict(checkpoint["ema"])
    if state.swa is not None and "swa" in checkpoint:
        state.swa.load_state_dict(checkpoint["swa"])
    state.first_epoch, state.step = checkpoint["epoch"] + 1, checkpoint["step"]


def train_epoch(
    state: Trained,
    step_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    split: Split,
    config: RunConfig,
    epoch: int,
    per_epoch: int,
    drop_last: bool,
    stream: LossStream,
    should_stop: Callable[[], bool],
) -> tuple[int, float] | None:
    """One epoch's steps: (images trained on, seconds held by a pause), or None when asked to stop."""
    state.model.train()
    images, held = 0, 0.0
    total = total_steps(config, per_epoch)
    scheduled = (
        config.lr_schedule != "constant"
        or config.warmup_epochs
        or config.swa_start
        or any("steps" in g for g in state.optimizer.param_groups)
    )
    flips = (
        alternating_flips(len(split), config.seed, epoch, split.labels.device)
        if config.hflip and config.alternate_flips
        else None
    )
    policy = make_policy(config, state.generator)
    batches = train_batches(
        split, config.batch_size, state.generator, config.hflip, config.crop, drop_last, config.translate, flips, policy
    )
    augment = batch_augment(config, state.generator, state.mixer)
    for _, (inputs, targets) in zip(range(steps_in_epoch(config, per_epoch, epoch)), batches):
        if augment is not None:
            inputs, targets = augment(inputs, targets)
        asked = time.perf_counter()
        if should_stop():  # it blocks while the run is paused
            stream.flush()
            return None
        held += time.perf_counter() - asked
        if scheduled:
            set_rates(state.optimizer, config, state.step, total, per_epoch)
        stream.append(state.step, epoch, step_fn(inputs, targets))
        state.step += 1
        if state.lookahead is not None:
            state.lookahead.after_step(state.step)
        if state.ema is not None:
            state.ema.update_parameters(state.raw_model)
        images += targets.shape[0]
    stream.flush()  # sync: the epoch's last losses reach the host
    return images, held


def set_rates(optimizer: torch.optim.Optimizer, config: RunConfig, step: int, total: int, per_epoch: int) -> None:
    """Each group's rate at this step: the schedule's times the group's lr_scale; a group that
    trains only its first `steps` has the schedule squeezed into them, then rate 0."""
    for group in optimizer.param_groups:
        steps = min(group.get("steps", total), total)
        rate = rate_at(config, step, steps, per_epoch) if step < steps else 0.0
        group["lr"] = rate * group.get("lr_scale", 1.0)


def write_checkpoint(
    path: Path, run_id: int, epoch: int, config: RunConfig, state: Trained, device: torch.device
) -> str:
    """The epoch's checkpoint as a pending file (moved into place once the epoch is recorded)."""
    pending = write_pending(
        path,
        epoch,
        {
            "run_id": run_id,
            "epoch": epoch,
            "step": state.step,
            "config": config.to_json(),
            "model": state.raw_model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "generator": state.generator.get_state(),
            **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}),
            **({"lookahead": state.lookahead.state_dict()} if state.lookahead is not None else {}),
            **({"mixer": state.mixer.state()} if state.mixer is not None else {}),
            **({"ema": state.ema.state_dict()} if state.ema is not None else {}),
            **({"swa": state.swa.state_dict()} if state.swa is not None else {}),
        },
    )
    pause_point("checkpoint-written")
    return str(pending)


def augmented_logits(model: nn.Module, inputs: torch.Tensor, config: RunConfig) -> torch.Tensor:
    """The model's logits, or with test-time augmentation the mean of its views': flip, the
    image and its mirror; flip-translate, also both shifted one pixel up-left and down-right
    (airbench94's, the unshifted pair weighted as much as the two shifted pairs together)."""

    def plain(images: torch.Tensor) -> torch.Tensor:
        outputs = model(prepare_inputs(images, config))
        return outputs[0] if isinstance(outputs, tuple) else outputs

    def mirrored(images: torch.Tensor) -> torch.Tensor:
        return 0.5 * plain(images) + 0.5 * plain(images.flip(3))

    if config.tta == "off":
        return plain(inputs)
    if config.tta == "flip":
        return mirrored(inputs)
    padded = F.pad(inputs, (1, 1, 1, 1), mode="reflect")
    h, w = inputs.shape[2:]
    shifted = 0.5 * mirrored(padded[:, :, :h, :w]) + 0.5 * mirrored(padded[:, :, 2:, 2:])
    return 0.5 * mirrored(inputs) + 0.5 * shifted


def scorer(model: nn.Module, num_classes: int, config: RunConfig) -> Callable[[Split], tuple[float, float]]:
    """(accuracy %, loss) of the model on a split, evaluated as `config` says (its TTA)."""

    def score(split: Split) -> tuple[float, float]:
        figures = evaluate(model, split, num_classes, config)
        return figures.acc, figures.loss

    return score


WRONG_SHOWN = 6  # misclassified test images recorded per epoch (16x16: 768 bytes each), for Live's strip


@dataclass(frozen=True)
class Evaluation:
    loss: float
    acc: float  # percent
    class_acc: tuple[float, ...]  # percent, per class
    confusion: tuple[int, ...]  # row-major counts: true class x predicted class
    wrong_labels: tuple[int, ...]  # (true, predicted) of each wrong image, flattened
    wrong_images: str  # those images halved to 16x16, uint8 HWC, base64


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, num_classes: int, config: RunConfig) -> Evaluation:
    """The model on an unaugmented split, dropout off: loss, accuracy, per-class accuracy, the
    confusion matrix, and the first few images it gets wrong. It syncs only after the last batch."""
    model.eval()
    device = split.labels.device
    loss_sum = torch.zeros((), device=device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
    predictions = []
    for inputs, targets in eval_batches(split, EVAL_BATCH):
        with autocast(config, device):
            outputs = augmented_logits(model, inputs, config)
        loss_sum += F.cross_entropy(outputs.float(), targets, reduction="sum")
        predicted = outputs.argmax(1)
        confusion += torch.bincount(targets * num_classes + predicted, minlength=num_classes * num_classes)
        predictions.append(predicted)
    predicted = torch.cat(predictions)
    wrong = (predicted != split.labels).nonzero().flatten()[:WRONG_SHOWN]
    counts = confusion.tolist()  # sync: once per evaluation
    halved = F.avg_pool2d(split.images[wrong].float(), 2).round().to(torch.uint8)  # what a terminal can show
    wrong_images = halved.permute(0, 2, 3, 1).contiguous().cpu().numpy().tobytes()
    wrong_labels = torch.stack([split.labels[wrong], predicted[wrong]], 1).flatten().tolist()
    rows = [counts[i * num_classes : (i + 1) * num_classes] for i in range(num_classes)]
    class_acc = tuple(100.0 * row[i] / sum(row) if sum(row) else 0.0 for i, row in enumerate(rows))
    correct = sum(row[i] for i, row in enumerate(rows))
    return Evaluation(
        loss_sum.item() / len(split),
        100.0 * correct / len(split),
        class_acc,
        tuple(counts),
        tuple(wrong_labels),
        base64.b64encode(wrong_images).decode("ascii"),
    )
