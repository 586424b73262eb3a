"""One experiment's settings: a frozen, flat dataclass validated in one place."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, fields
from typing import Any

OPTIMIZERS = ("adam", "sgd")
INITS = ("default", "xavier-uniform", "xavier-normal", "kaiming-uniform", "kaiming-normal")
DATASETS = ("cifar10", "synthetic")
PRECISIONS = ("fp32", "bf16", "fp16")
COMPILE_MODES = ("off", "default", "cudagraphs")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,3})?)$")
MAX_CUDA_INDEX = 127  # torch keeps a device index in 8 bits


class ConfigError(ValueError):
    """A user's mistake in one field; the message names the field and what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class RunConfig:
    model: str = "seed-cnn"
    dataset: str = "cifar10"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    lr_schedule: str = "constant"  # constant, or cosine: warm up for one epoch, then decay to 0
    optimizer: str = "adam"
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float = 0.0
    dropout: float = 0.2  # models with dropout layers (seed-cnn)
    init: str = "default"
    hflip: bool = True
    crop: bool = False  # random 32x32 crop of the image padded by 4
    seed: int = 0
    device: str = "auto"
    limit_batches: int = 0  # 0: whole epochs; N: stop each epoch after N batches
    # Speed options; the defaults were chosen by `cifar-tui bench` (see README, Speed).
    precision: str = "fp32"  # bf16: autocast; fp16: autocast with a gradient scaler
    channels_last: bool = True
    compile: str = "off"  # default: torch.compile; cudagraphs: the whole step as one CUDA graph
    fused: bool = True  # fused optimizer kernels
    name: str = ""

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
        return self.name or self.model


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


def validate(config: RunConfig) -> None:
    # Imported here: the model registry imports torch, which a config must not need at import.
    from engine.models import MODELS

    for f in fields(config):
        value = getattr(config, f.name)
        kind = FIELD_TYPES[f.name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f.name, f"must be of type {kind.__name__} (got {value!r})")
    _check(config.model in MODELS, "model", f"unknown model {config.model!r}; allowed: {', '.join(MODELS)}")
    _check(config.dataset in DATASETS, "dataset", f"unknown dataset {config.dataset!r}; allowed: {', '.join(DATASETS)}")
    _check(1 <= config.epochs <= 10_000, "epochs", f"must be between 1 and 10000 (got {config.epochs})")
    _check(1 <= config.batch_size <= 65_536, "batch_size", f"must be between 1 and 65536 (got {config.batch_size})")
    _check(0 < config.lr <= 10, "lr", f"must be > 0 and <= 10 (got {config.lr})")
    from engine.schedule import SCHEDULES

    _check(
        config.lr_schedule in SCHEDULES,
        "lr_schedule",
        f"unknown schedule {config.lr_schedule!r}; allowed: {', '.join(SCHEDULES)}",
    )
    _check(
        config.compile != "cudagraphs" or config.lr_schedule == "constant",
        "compile",
        "cudagraphs needs lr_schedule constant (a captured step replays its learning rate)",
    )
    _check(
        config.optimizer in OPTIMIZERS,
        "optimizer",
        f"unknown optimizer {config.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}",
    )
    _check(0 <= config.momentum < 1, "momentum", f"must be >= 0 and < 1 (got {config.momentum})")
    _check(
        not config.nesterov or (config.optimizer == "sgd" and config.momentum > 0),
        "nesterov",
        "needs optimizer sgd with momentum > 0",
    )
    _check(0 <= config.weight_decay < 1, "weight_decay", f"must be >= 0 and < 1 (got {config.weight_decay})")
    _check(0 <= config.dropout < 1, "dropout", f"must be >= 0 and < 1 (got {config.dropout})")
    _check(config.init in INITS, "init", f"unknown init {config.init!r}; allowed: {', '.join(INITS)}")
    _check(0 <= config.seed < 2**63, "seed", f"must be between 0 and 2**63-1 (got {config.seed})")
    _check(
        bool(DEVICE_PATTERN.match(config.device)) and _cuda_index(config.device) <= MAX_CUDA_INDEX,
        "device",
        f"unknown device {config.device!r}; allowed: auto, cpu, cuda, cuda:N (N from 0 to {MAX_CUDA_INDEX}), mps",
    )
    _check(
        config.precision in PRECISIONS,
        "precision",
        f"unknown precision {config.precision!r}; allowed: {', '.join(PRECISIONS)}",
    )
    _check(
        config.compile in COMPILE_MODES,
        "compile",
        f"unknown compile mode {config.compile!r}; allowed: {', '.join(COMPILE_MODES)}",
    )
    _check(
        config.compile != "cudagraphs" or config.precision != "fp16",
        "compile",
        "cudagraphs works with precision fp32 or bf16 (fp16's gradient scaler cannot be captured)",
    )
    _check(config.limit_batches >= 0, "limit_batches", f"must be >= 0 (got {config.limit_batches})")
    _check(len(config.name) <= 200, "name", f"must be at most 200 characters (got {len(config.name)})")
    control = next((ch for ch in config.name if not (ch.isprintable() or ch == " ")), None)
    _check(
        control is None,
        "name",
        f"must be printable text; it holds the invisible or control character U+{ord(control or ' '):04X}",
    )


def _cuda_index(device: str) -> int:
    return int(device.partition(":")[2] or 0) if device.startswith("cuda") else 0


def _check(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise ConfigError(field, message)


_TUTORIAL = dict(dataset="cifar10", batch_size=64, lr=1e-3, optimizer="adam", hflip=True, crop=False)

PRESETS: dict[str, dict[str, Any]] = {
    "seed-cnn": dict(_TUTORIAL, model="seed-cnn", epochs=10, dropout=0.2, init="xavier-uniform"),
    "seed-resnet": dict(_TUTORIAL, model="seed-resnet", epochs=3),
    "seed-resnet18": dict(_TUTORIAL, model="resnet18", epochs=3),
    # The schedule CIFAR papers use for ResNet-18 (about 95% test accuracy on CIFAR-10).
    "resnet18-cifar": dict(
        model="resnet18-cifar",
        dataset="cifar10",
        epochs=60,
        batch_size=128,
        lr=0.1,
        lr_schedule="cosine",
        optimizer="sgd",
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        hflip=True,
        crop=True,
    ),
}


def make_config(preset: str | None = None, **overrides: Any) -> RunConfig:
    """A preset's settings with the given fields (those not None) on top."""
    base: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError("preset", f"unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
        base = dict(PRESETS[preset])
    base.update({key: value for key, value in overrides.items() if value is not None})
    return RunConfig.from_dict(base)
