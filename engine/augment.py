"""What a normalised training batch goes through before its step, in timm's order: cutout,
random erasing (each image on its own), then mixup or CutMix (the batch as a whole)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .config import RunConfig, erasing_fill, parse_pair
from .erasing import cutout, random_erasing
from .mixing import Mixer

BatchAugment = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def batch_augment(config: RunConfig, generator: torch.Generator, mixer: Mixer | None) -> BatchAugment | None:
    """None when the run has none of them: its batches go to the step as they come."""
    if not (config.cutout or config.erasing or mixer is not None):
        return None
    scale, ratio, fill = (
        parse_pair(config.erasing_scale),
        parse_pair(config.erasing_ratio),
        erasing_fill(config.erasing_value),
    )

    def augment(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if config.cutout:
            images = cutout(images, generator, config.cutout, config.cutout_inside)
        if config.erasing:
            images = random_erasing(images, generator, config.erasing, scale, ratio, fill)
        return mixer(images, labels) if mixer is not None else (images, labels)

    return augment
