"""`--model timm:NAME`: any of timm's models, built from scratch (no pretrained weights) with the
dataset's number of classes; a ViT-like model is sized for 32x32 images (img_size=32). timm is an
optional extra (`pip install 'cifar-tui[timm]'`), imported only when such a model is named.

Most of timm's convolutional models keep their ImageNet stem (a stride-2 7x7 conv and a max-pool):
at 32x32 their last feature map is 1x1 where a CIFAR stem keeps 4x4, which costs accuracy (the
ImageNet-stem resnet18 against resnet18-cifar, README's real-data table). `stem_notice` says so
when a run starts."""

from __future__ import annotations

import difflib

PREFIX = "timm:"
INSTALL = "pip install 'cifar-tui[timm]'"


class TimmUnavailable(ValueError):
    """timm is missing, or names no such model: the message says which and what to do."""


def is_timm_model(name: str) -> bool:
    return name.startswith(PREFIX) and len(name) > len(PREFIX)


def _timm():
    try:
        import timm
    except ImportError:
        raise TimmUnavailable(f"timm is not installed: {INSTALL}") from None
    return timm


def check(name: str) -> None:
    """TimmUnavailable unless timm is installed and knows the model."""
    timm = _timm()
    model = name.removeprefix(PREFIX)
    if model not in timm.list_models():
        close = difflib.get_close_matches(model, timm.list_models(), n=5, cutoff=0.75)
        hint = f"; like it: {', '.join(close)}" if close else "; see timm.list_models()"
        raise TimmUnavailable(f"timm has no model {model!r}{hint}")


def build(name: str, num_classes: int):
    timm = _timm()
    model = name.removeprefix(PREFIX)
    try:
        return timm.create_model(model, pretrained=False, num_classes=num_classes, img_size=32)
    except TypeError:  # a model without an image size (most CNNs): its own stem, any size
        return timm.create_model(model, pretrained=False, num_classes=num_classes)


def stem_notice(name: str, model) -> str:
    """A sentence when the model shrinks a 32x32 image to under 4x4 (an ImageNet stem), else ""."""
    info = getattr(model, "feature_info", None)
    reduction = info[-1].get("reduction") if info else None
    if not reduction or 32 // reduction >= 4:
        return ""
    side = max(1, 32 // reduction)
    return (
        f"{name} keeps its ImageNet stem: a 32x32 image is {side}x{side} at its last features (a CIFAR stem keeps "
        f"4x4), which costs accuracy; resnet18-cifar is ResNet-18 with a CIFAR stem"
    )
