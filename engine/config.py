"""One experiment's settings: a frozen, flat dataclass validated in one place."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from . import eval_sets
from .datasets import CHOICES, takes_path, with_absolute_path
from .models import MODELS
from .presets import PRESETS
from .schedule import SCHEDULES, parse_milestones, schedules_help
from .text import unprintable
from .timm_models import TimmUnavailable, is_timm_model
from .user_model import UserModelError, is_user_model, read_source
from .user_model import label as user_model_label

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,3})?)$")
MAX_CUDA_INDEX = 127  # torch keeps a device index in 8 bits
GROUPS = (
    "model",
    "optimisation",
    "schedule",
    "regularisation",
    "data",
    "augmentation",
    "speed",
    "run",
)  # the form's sections, in order


class ConfigError(ValueError):
    """A user's mistake in one field; the message names the field and what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Setting:
    """What people are told about a field: the CLI flags, the form, `show` and the README's flag
    list are all made from these."""

    help: str
    group: str
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()  # a callable: the registry may grow
    unit: str = ""
    examples: tuple[str, ...] = ()  # what shell completion offers for a field without fixed choices
    accepts: Callable[[str], bool] | None = None  # values outside the choices that are valid too
    accepts_form: str = ""  # how people write those values ("FILE.py:Class")
    internal: bool = False  # filled in by the program, never typed: no flag, no form field

    def allowed(self) -> tuple[str, ...]:
        return self.choices() if callable(self.choices) else self.choices


def setting(
    default: Any,
    help: str,
    group: str,
    choices=(),
    unit: str = "",
    examples=(),
    accepts=None,
    accepts_form: str = "",
    internal=False,
) -> Any:
    return dataclasses.field(
        default=default,
        metadata={"setting": Setting(help, group, choices, unit, examples, accepts, accepts_form, internal)},
    )


@dataclass(frozen=True)
class RunConfig:
    model: str = setting(
        "seed-cnn",
        "Architecture (see `cifar-tui models`), FILE.py:Class of your own, or timm:NAME (any timm model, "
        "from scratch; the timm extra).",
        "model",
        lambda: tuple(MODELS),
        accepts=lambda name: is_user_model(name) or is_timm_model(name),
        accepts_form="FILE.py:Class, or timm:NAME",
    )
    model_source: str = setting(
        "", "A FILE.py:Class model's source, read when the run is made.", "model", internal=True
    )
    preset: str = setting(
        "", "The preset the run was made from (its recipe is the ledger's when no recipe field changed).", "run",
        internal=True,
    )  # fmt: skip
    dropout: float = setting(
        0.2, "Dropout of seed-cnn's linear layers, and between a Wide-ResNet block's convolutions (the paper: 0 "
        "or 0.3).", "model", unit="probability",
    )  # fmt: skip
    init: str = setting(
        "default",
        "Conv and linear weight init.",
        "model",
        ("default", "xavier-uniform", "xavier-normal", "kaiming-uniform", "kaiming-normal"),
    )
    optimizer: str = setting(
        "adam",
        "adam (weight decay as L2 in the gradient); adamw: decoupled weight decay (Loshchilov & Hutter); "
        "sgd (momentum, nesterov); muon: Muon on the convolution filters, Nesterov SGD on the rest.",
        "optimisation",
        ("adam", "adamw", "sgd", "muon"),
    )
    lr: float = setting(1e-3, "Learning rate.", "optimisation")
    muon_lr: float = setting(0.24, "Muon's learning rate for the convolution filters (muon only).", "optimisation")
    momentum: float = setting(0.9, "SGD momentum (sgd only).", "optimisation")
    nesterov: bool = setting(False, "Nesterov momentum (sgd only).", "optimisation")
    bias_lr_scale: float = setting(1.0, "Learning-rate multiplier of BatchNorm biases.", "optimisation")
    lookahead: bool = setting(False, "Pull the weights to their average every 5 steps.", "optimisation")
    whiten_bias_epochs: int = setting(
        0,
        "Epochs the whitening layer's bias trains, its rate on the schedule squeezed into them (0: all).",
        "optimisation",
        unit="epochs",
    )
    lr_schedule: str = setting(
        "constant",
        schedules_help(),
        "schedule",
        SCHEDULES,
    )
    warmup_epochs: float = setting(
        0.0, "A linear warm-up from lr/steps to lr over this many epochs (fractions too), before the schedule.",
        "schedule", unit="epochs",
    )  # fmt: skip
    lr_milestones: str = setting(
        "0.5+0.75", "multistep: where the rate drops, as fractions of the run (0.5) or epochs (30), joined by +.",
        "schedule",
    )  # fmt: skip
    lr_gamma: float = setting(0.1, "multistep: what the rate is multiplied by at each milestone.", "schedule")
    onecycle_pct_start: float = setting(
        0.3, "onecycle: the share of the run the rate rises for (OneCycleLR's pct_start).", "schedule"
    )
    onecycle_div: float = setting(25.0, "onecycle: the rate starts at lr divided by this (div_factor).", "schedule")
    onecycle_final_div: float = setting(
        1e4, "onecycle: the last rate is the first divided by this (final_div_factor).", "schedule"
    )
    weight_decay: float = setting(
        0.0, "Weight decay: an L2 penalty (adam, sgd), decoupled from the gradient (adamw).", "regularisation"
    )
    clip_grad_norm: float = setting(
        0.0, "Gradients scaled down to this total norm when larger (torch's clip_grad_norm_); 0: off.", "regularisation"
    )
    label_smoothing: float = setting(0.0, "Cross-entropy label smoothing.", "regularisation", unit="probability")
    ema: float = setting(
        0.0, "An exponential moving average of the weights and BatchNorm buffers with this decay (0.999: about the "
        "last 1,000 steps), updated each step; the test set is evaluated with it, the raw model's accuracy "
        "recorded beside. 0: off.", "regularisation",
    )  # fmt: skip
    ema_warmup: bool = setting(
        False, "ema: the decay ramps up as min(ema, (1 + t) / (10 + t)) at step t (TensorFlow's num_updates), so "
        "a short run's average is not mostly its initial weights.", "regularisation",
    )  # fmt: skip
    swa_start: int = setting(
        0, "Stochastic weight averaging (Izmailov et al.) after this many epochs: the weights averaged at each "
        "later epoch's end (torch's AveragedModel), the rate annealed to swa_lr (SWALR); the test set is evaluated "
        "with the average, its BatchNorm statistics recomputed over the training set (update_bn). 0: off.",
        "regularisation", unit="epochs",
    )  # fmt: skip
    swa_lr: float = setting(0.05, "swa: the rate SWALR anneals to and keeps.", "regularisation")
    swa_anneal_epochs: int = setting(
        10, "swa: the epochs of SWALR's cosine from the schedule's rate to swa_lr (torch's default; 0: at once).",
        "regularisation", unit="epochs",
    )  # fmt: skip
    dataset: str = setting(
        "cifar10",
        "The images to train and test on (see `cifar-tui datasets`), or folder:PATH.",
        "data",
        lambda: CHOICES,
        accepts=takes_path,
        accepts_form="folder:PATH",
    )
    batch_size: int = setting(64, "Images per step.", "data")
    drop_last: bool = setting(False, "Leave out each epoch's last, partial batch.", "data")
    eval_on: str = setting(
        "",
        f"Held-out sets, tested at the end: {eval_sets.kinds_help()}; comma-separated.",
        "data",
        examples=(*(f"{k.name}:" for k in eval_sets.KINDS if k.takes_path), "cifar10"),
    )
    eval_every_epoch: bool = setting(False, "Evaluate the --eval-on sets at every epoch's end too.", "data")
    hflip: bool = setting(True, "Random horizontal flips.", "augmentation")
    alternate_flips: bool = setting(
        False, "With hflip: each image flipped every other epoch (a random half first), not at random.", "augmentation"
    )
    crop: bool = setting(False, "Random crops of the 4-pixel padded image.", "augmentation")
    translate: int = setting(0, "Random shifts of up to N pixels, edges mirrored.", "augmentation", unit="pixels")
    cutout: int = setting(
        0, "A square of N pixels around a random centre set to the mean grey, clipped at the edges (DeVries & "
        "Taylor: 16 for CIFAR-10, 8 for CIFAR-100); 0: off.", "augmentation", unit="pixels",
    )  # fmt: skip
    cutout_inside: bool = setting(
        False, "cutout: the square placed wholly inside the image, never clipped (airbench96's), not around a "
        "random centre.", "augmentation",
    )  # fmt: skip
    erasing: float = setting(
        0.0, "Random erasing's probability (torchvision's RandomErasing, Zhong et al.: 0.5): a box of erasing_scale "
        "of the image, aspect erasing_ratio, set to erasing_value; 0: off.", "augmentation", unit="probability",
    )  # fmt: skip
    erasing_scale: str = setting(
        "0.02+0.33", "erasing: the box's area as a share of the image, from+to.", "augmentation"
    )
    erasing_ratio: str = setting(
        "0.3+3.3", "erasing: the box's aspect ratio, from+to (drawn log-uniform).", "augmentation"
    )
    erasing_value: str = setting(
        "0", "erasing: what the box is set to: a number on the normalised scale (0: the mean grey) or random "
        "(a normal draw per pixel).", "augmentation",
    )  # fmt: skip
    mixup: float = setting(
        0.0, "Mixup's alpha (Zhang et al.: 1.0): each image blended with another, lambda ~ Beta(alpha, alpha), the "
        "targets too; the train loss is then against the mixed targets. 0: off.", "augmentation",
    )  # fmt: skip
    cutmix: float = setting(
        0.0, "CutMix's alpha (Yun et al.: 1.0): a box of another image pasted in, the targets mixed by its area; 0: "
        "off.", "augmentation",
    )  # fmt: skip
    mix_prob: float = setting(1.0, "mixup/cutmix: the share of batches mixed (timm's mixup_prob).", "augmentation")
    mix_switch_prob: float = setting(
        0.5, "mixup and cutmix both on: the share of mixed batches that take CutMix (timm's switch_prob).",
        "augmentation",
    )  # fmt: skip
    augment_policy: str = setting(
        "none",
        "An augmentation policy, each image drawing its own ops before it is normalised: autoaugment (Cubuk et "
        "al.: torchvision's CIFAR-10 policy), randaugment (Cubuk et al. 2020: randaugment_n ops at "
        "magnitude randaugment_m), trivialaugment (Müller & Hutter: one op, TrivialAugmentWide), augmix (Hendrycks "
        "et al.: augmix_width chains mixed with the image); none: off.",
        "augmentation",
        ("none", "autoaugment", "randaugment", "trivialaugment", "augmix"),
    )
    randaugment_n: int = setting(2, "randaugment: N, the ops each image draws (torchvision's num_ops).", "augmentation")
    randaugment_m: int = setting(
        9, "randaugment: M, every op's magnitude, a bin of 0..30 (torchvision's magnitude).", "augmentation"
    )
    augmix_severity: int = setting(
        3, "augmix: the ops' magnitudes are drawn from the first N of 10 bins (1..10).", "augmentation"
    )
    augmix_width: int = setting(3, "augmix: the chains of ops mixed into each image.", "augmentation")
    augmix_depth: int = setting(
        -1, "augmix: the ops of each chain; -1: 1 to 3, drawn for each chain of each image.", "augmentation"
    )
    tta: str = setting(
        "off",
        "Test-time augmentation of the last epoch's evaluation: average the logits of flipped (and shifted) "
        "test images.",
        "augmentation",
        ("off", "flip", "flip-translate"),
    )
    precision: str = setting(
        "fp32",
        "bf16/fp16: autocast (fp16 with a scaler); half: the model in fp16, BatchNorm in fp32 (airbench's "
        "way, for a GPU: a CPU computes fp16 slowly).",
        "speed",
        ("fp32", "bf16", "fp16", "half"),
    )
    channels_last: bool = setting(True, "channels_last (NHWC) memory format.", "speed")
    compile: str = setting(
        "auto",
        "auto: each step one CUDA graph where measured faster (seed-cnn, seed-resnet, resnet18 on CUDA, "
        "constant lr), else off; cudagraphs: always; default: torch.compile.",
        "speed",
        ("auto", "off", "default", "cudagraphs"),
    )
    fused: bool = setting(True, "Fused optimizer kernels.", "speed")
    cudnn_benchmark: bool = setting(
        False, "cuDNN times each convolution's algorithms once and keeps the fastest (not bitwise repeatable).", "speed"
    )
    deterministic: bool = setting(
        False,
        "Deterministic algorithms (torch.use_deterministic_algorithms, deterministic cuDNN, no benchmark mode; "
        "an op without a deterministic kernel runs as before, with a warning): the same config, the same losses bit for bit.",
        "speed",
    )
    device: str = setting(
        "auto", "auto, cpu, cuda, cuda:N or mps.", "run", examples=("auto", "cpu", "cuda", "cuda:0", "cuda:1", "mps")
    )
    epochs: int = setting(10, "Passes over the training set.", "run")
    last_epoch_share: float = setting(
        1.0, "Share of the last epoch trained: --epochs 10 --last-epoch-share 0.9 trains 9.9 epochs.", "run"
    )
    seed: int = setting(0, "Random seed.", "run")
    limit_batches: int = setting(0, "Stop each epoch after N batches (0: all).", "run")
    limit_eval_batches: int = setting(
        -1, "Evaluate on N test batches (0: all; -1: the share --limit-batches trains on).", "run"
    )
    name: str = setting("", "A label for tables and charts.", "run")

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown field; allowed: {', '.join(sorted(known))}")
        return cls(**{key: _coerce(key, value) for key, value in data.items()})

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> RunConfig:
        return RunConfig.from_dict({**self.to_dict(), **changes})

    @property
    def label(self) -> str:
        return self.name or self.model_label

    @property
    def model_label(self) -> str:
        """The model as tables show it: a user model's file name, class and source hash."""
        return user_model_label(self.model, self.model_source) if self.model_source else self.model


FIELD_TYPES: dict[str, type] = {f.name: type(f.default) for f in fields(RunConfig)}


def _coerce(field: str, value: Any) -> Any:
    """Turn text (from a form or a JSON file) into the field's type, or say what is wrong."""
    kind = FIELD_TYPES[field]
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    if kind is bool:
        text = str(value).strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
        raise ConfigError(field, f"must be true or false (got {value!r})")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (int, float):
        try:
            return kind(str(value).strip())
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise ConfigError(field, f"must be {noun} (got {value!r})") from None
    return str(value)


def _settings() -> dict[str, Setting]:
    missing = [f.name for f in fields(RunConfig) if not isinstance(f.metadata.get("setting"), Setting)]
    if missing:
        raise TypeError(f"RunConfig fields declared without setting(...): {', '.join(missing)}")
    return {f.name: f.metadata["setting"] for f in fields(RunConfig)}


SETTINGS = _settings()
# The fields people set (flags, the form, table columns); the internal ones the program fills in.
TYPED_FIELDS: dict[str, type] = {name: FIELD_TYPES[name] for name, s in SETTINGS.items() if not s.internal}


def validate(config: RunConfig) -> None:
    for f in fields(config):
        value = getattr(config, f.name)
        kind = FIELD_TYPES[f.name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f.name, f"must be of type {kind.__name__} (got {value!r})")
        setting_of = SETTINGS[f.name]
        allowed = setting_of.allowed()
        _check(
            not allowed or value in allowed or bool(setting_of.accepts and setting_of.accepts(value)),
            f.name,
            f"unknown {f.name.replace('_', ' ')} {value!r}; allowed: {', '.join(allowed)}"
            + (f", or {setting_of.accepts_form}" if setting_of.accepts_form else ""),
        )
    if config.eval_on:
        try:
            eval_sets.parse_list(config.eval_on)
        except eval_sets.EvalSetError as error:
            raise ConfigError("eval_on", str(error)) from None
    _check(1 <= config.epochs <= 10_000, "epochs", f"must be between 1 and 10000 (got {config.epochs})")
    _check(1 <= config.batch_size <= 65_536, "batch_size", f"must be between 1 and 65536 (got {config.batch_size})")
    _check(0 < config.lr <= 10, "lr", f"must be > 0 and <= 10 (got {config.lr})")
    _check(0 < config.muon_lr <= 10, "muon_lr", f"must be > 0 and <= 10 (got {config.muon_lr})")
    _check(
        0 < config.last_epoch_share <= 1,
        "last_epoch_share",
        f"must be > 0 and <= 1 (got {config.last_epoch_share})",
    )
    _check(
        0 <= config.whiten_bias_epochs <= 10_000,
        "whiten_bias_epochs",
        f"must be between 0 and 10000 (got {config.whiten_bias_epochs})",
    )
    _check(0 <= config.momentum < 1, "momentum", f"must be >= 0 and < 1 (got {config.momentum})")
    _check(0 <= config.weight_decay < 1, "weight_decay", f"must be >= 0 and < 1 (got {config.weight_decay})")
    _check(
        0 <= config.warmup_epochs < config.epochs,
        "warmup_epochs",
        f"must be >= 0 and shorter than the run's {config.epochs} epochs (got {config.warmup_epochs:g})",
    )
    _check(0 < config.lr_gamma <= 1, "lr_gamma", f"must be > 0 and <= 1 (got {config.lr_gamma:g})")
    _check(
        0 < config.onecycle_pct_start < 1,
        "onecycle_pct_start",
        f"must be > 0 and < 1 (got {config.onecycle_pct_start:g})",
    )
    for name in ("onecycle_div", "onecycle_final_div"):
        _check(1 <= getattr(config, name) <= 1e9, name, f"must be between 1 and 1e9 (got {getattr(config, name):g})")
    try:
        milestones = parse_milestones(config.lr_milestones)
    except ValueError as error:
        raise ConfigError("lr_milestones", str(error)) from None
    _check(
        all(v < 1 or v <= config.epochs for v in milestones),
        "lr_milestones",
        f"an epoch milestone past the run's {config.epochs} epochs (got {config.lr_milestones})",
    )
    _check(config.clip_grad_norm >= 0, "clip_grad_norm", f"must be >= 0, 0 for off (got {config.clip_grad_norm})")
    _check(0 <= config.dropout < 1, "dropout", f"must be >= 0 and < 1 (got {config.dropout})")
    _check(
        0 <= config.label_smoothing < 1,
        "label_smoothing",
        f"must be >= 0 and < 1 (got {config.label_smoothing})",
    )
    _check(0 < config.bias_lr_scale <= 1000, "bias_lr_scale", f"must be > 0 and <= 1000 (got {config.bias_lr_scale})")
    _check(
        config.ema == 0 or 0 < config.ema < 1, "ema", f"must be a decay between 0 and 1, 0 for off (got {config.ema:g})"
    )
    _check(
        not config.ema or config.precision != "half",
        "ema",
        "averaging fp16 weights loses each step's small update; use precision bf16 or fp32 with ema",
    )
    _check(0 <= config.randaugment_n <= 10, "randaugment_n", f"must be between 0 and 10 (got {config.randaugment_n})")
    _check(
        0 <= config.randaugment_m <= 30,
        "randaugment_m",
        f"must be a bin between 0 and 30 (got {config.randaugment_m})",
    )
    _check(
        1 <= config.augmix_severity <= 10, "augmix_severity", f"must be between 1 and 10 (got {config.augmix_severity})"
    )
    _check(1 <= config.augmix_width <= 10, "augmix_width", f"must be between 1 and 10 (got {config.augmix_width})")
    _check(
        config.augmix_depth == -1 or 1 <= config.augmix_depth <= 10,
        "augmix_depth",
        f"must be between 1 and 10, or -1 for 1 to 3 at random (got {config.augmix_depth})",
    )
    _check(
        0 <= config.swa_start < config.epochs,
        "swa_start",
        f"must be >= 0 and before the run's last epoch {config.epochs}, 0 for off (got {config.swa_start})",
    )
    _check(not config.swa_start or not config.ema, "swa_start", "one average at a time: swa or ema, not both")
    _check(
        not config.swa_start or config.precision != "half",
        "swa_start",
        "averaging fp16 weights is not supported; use precision bf16 or fp32 with swa",
    )
    _check(0 < config.swa_lr <= 100, "swa_lr", f"must be > 0 and <= 100 (got {config.swa_lr:g})")
    _check(
        0 <= config.swa_anneal_epochs <= 1000,
        "swa_anneal_epochs",
        f"must be between 0 and 1000 (got {config.swa_anneal_epochs})",
    )
    _check(0 <= config.cutout <= 32, "cutout", f"must be between 0 and 32 pixels, 0 for off (got {config.cutout})")
    _check(0 <= config.erasing <= 1, "erasing", f"must be between 0 and 1, 0 for off (got {config.erasing:g})")
    scale = _pair(config, "erasing_scale", "shares of the image", "0.02+0.33")
    _check(
        0 < scale[0] <= scale[1] <= 1,
        "erasing_scale",
        f"must be shares of the image rising within 0..1 (got {config.erasing_scale})",
    )
    ratio = _pair(config, "erasing_ratio", "aspect ratios", "0.3+3.3")
    _check(
        0 < ratio[0] <= ratio[1] <= 100,
        "erasing_ratio",
        f"must be positive aspect ratios, rising (got {config.erasing_ratio})",
    )
    try:
        erasing_fill(config.erasing_value)
    except ValueError:
        raise ConfigError(
            "erasing_value", f"must be a number (0: the mean grey) or random (got {config.erasing_value!r})"
        ) from None
    for name in ("mixup", "cutmix"):
        _check(
            0 <= getattr(config, name) <= 100,
            name,
            f"must be an alpha between 0 and 100, 0 for off (got {getattr(config, name):g})",
        )
    _check(0 < config.mix_prob <= 1, "mix_prob", f"must be > 0 and <= 1 (got {config.mix_prob:g})")
    _check(
        0 <= config.mix_switch_prob <= 1, "mix_switch_prob", f"must be between 0 and 1 (got {config.mix_switch_prob:g})"
    )
    spec = MODELS.get(config.model)
    _check(
        not (config.mixup or config.cutmix) or spec is None or not spec.auxiliary,
        "mixup" if config.mixup else "cutmix",
        f"{config.model} trains auxiliary classifiers beside its main one; mixup and cutmix take a model with one output",
    )
    _check(0 <= config.translate <= 8, "translate", f"must be between 0 and 8 pixels (got {config.translate})")
    _check(0 <= config.seed < 2**63, "seed", f"must be between 0 and 2**63-1 (got {config.seed})")
    _check(config.limit_batches >= 0, "limit_batches", f"must be >= 0 (got {config.limit_batches})")
    _check(
        config.limit_eval_batches >= -1,
        "limit_eval_batches",
        f"must be >= 0, or -1 for a share like --limit-batches' (got {config.limit_eval_batches})",
    )
    _check(
        bool(config.model_source) == is_user_model(config.model),
        "model",
        f"{config.model} needs its source (read from the file when the run is made)"
        if is_user_model(config.model)
        else "a built-in model takes no source",
    )
    _check(
        bool(DEVICE_PATTERN.match(config.device)) and _cuda_index(config.device) <= MAX_CUDA_INDEX,
        "device",
        f"unknown device {config.device!r}; allowed: auto, cpu, cuda, cuda:N (N from 0 to {MAX_CUDA_INDEX}), mps",
    )
    _check(
        not config.nesterov or (config.optimizer == "sgd" and config.momentum > 0),
        "nesterov",
        "needs optimizer sgd with momentum > 0",
    )
    _check(
        config.compile != "cudagraphs" or replays_one_step(config),
        "compile",
        "cudagraphs needs lr_schedule constant, warmup_epochs 0, swa_start 0, no lookahead, whiten_bias_epochs 0 and clip_grad_norm 0 (a "
        "captured step replays its learning rate; clipping is not captured)",
    )
    _check(
        config.precision != "half" or config.optimizer in ("sgd", "muon"),
        "precision",
        "half trains with optimizer sgd or muon: Adam's second moments underflow in fp16 weights' state; "
        "use bf16 with adam",
    )
    _check(
        config.compile != "cudagraphs" or config.precision != "fp16",
        "compile",
        "cudagraphs works with precision fp32, bf16 or half (fp16's gradient scaler cannot be captured)",
    )
    _check(len(config.name) <= 200, "name", f"must be at most 200 characters (got {len(config.name)})")
    problem = unprintable(config.name)
    _check(problem is None, "name", problem or "")


def parse_pair(text: str) -> tuple[float, float]:
    """ "0.02+0.33" -> (0.02, 0.33); ValueError when it is not two numbers joined by +."""
    low, high = (float(part) for part in str(text).split("+"))
    if not all(math.isfinite(v) for v in (low, high)):
        raise ValueError(text)
    return low, high


def replays_one_step(config: RunConfig) -> bool:
    """Whether a CUDA graph can replay this run's step: one learning rate throughout, no step
    outside the optimizer's (lookahead), nothing captured that is not (clipping)."""
    return (
        config.lr_schedule == "constant"
        and not config.warmup_epochs
        and not config.swa_start
        and not config.lookahead
        and not config.whiten_bias_epochs
        and not config.clip_grad_norm
    )


def erasing_fill(text: str) -> float | None:
    """erasing_value as random erasing takes it: a number, or None for a normal draw per pixel."""
    if str(text).strip().lower() == "random":
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _pair(config: RunConfig, name: str, what: str, example: str) -> tuple[float, float]:
    try:
        return parse_pair(getattr(config, name))
    except ValueError:
        raise ConfigError(
            name, f"must be two {what} joined by +, like {example} (got {getattr(config, name)!r})"
        ) from None


def _cuda_index(device: str) -> int:
    return int(device.partition(":")[2] or 0) if device.startswith("cuda") else 0


def _check(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ConfigError(field, message)


def make_config(preset: str | None = None, **overrides: Any) -> RunConfig:
    """A preset's settings with the given fields (those not None) on top."""
    base: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError("preset", f"unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
        base = dict(PRESETS[preset], preset=preset)
    base.update({key: value for key, value in overrides.items() if value is not None})
    try:
        base["dataset"] = with_absolute_path(str(base.get("dataset", "cifar10")), Path.cwd())
    except ValueError as error:
        raise ConfigError("dataset", str(error)) from None
    if base.get("eval_on"):
        try:
            base["eval_on"] = eval_sets.checked(str(base["eval_on"]), Path.cwd(), base["dataset"])
        except eval_sets.EvalSetError as error:
            raise ConfigError("eval_on", str(error)) from None
    model = str(base.get("model", ""))
    if is_timm_model(model):
        from .timm_models import check

        try:
            check(model)
        except TimmUnavailable as error:
            raise ConfigError("model", str(error)) from None
    if is_user_model(model) and not base.get("model_source"):
        try:
            base["model_source"] = read_source(model, Path.cwd())
        except UserModelError as error:
            raise ConfigError("model", str(error).removeprefix("model: ")) from None
    return RunConfig.from_dict(base)
