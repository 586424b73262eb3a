"""Mixup and CutMix for a whole batch on the device, as torchvision.transforms.v2's MixUp and
CutMix do them: each image mixed with the one before it in the (shuffled) batch, one lambda per
batch from Beta(alpha, alpha), the targets mixed in the same proportion. With both on, timm's
switch picks one per batch. The batch-level draws (whether to mix, which, lambda, CutMix's box)
come from the run's own numpy generator, saved in checkpoints, so a resumed run mixes the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Mix:
    """One batch's mixing: lam of each image with (1 - lam) of its neighbour's, inside `box`
    (x1, y1, x2, y2) for CutMix (lam then the share of the image outside the box)."""

    lam: float
    box: tuple[int, int, int, int] | None = None


def cutmix_box(lam: float, h: int, w: int, rng: np.random.Generator) -> tuple[tuple[int, int, int, int], float]:
    """torchvision's CutMix box for a drawn lam, and the lam its clipped area gives."""
    centre_x, centre_y = int(rng.integers(w)), int(rng.integers(h))
    r = 0.5 * math.sqrt(1.0 - lam)
    half_w, half_h = int(r * w), int(r * h)
    x1, y1 = max(centre_x - half_w, 0), max(centre_y - half_h, 0)
    x2, y2 = min(centre_x + half_w, w), min(centre_y + half_h, h)
    return (x1, y1, x2, y2), 1.0 - (x2 - x1) * (y2 - y1) / (w * h)


@dataclass
class Mixer:
    mixup_alpha: float
    cutmix_alpha: float
    prob: float  # timm's mixup_prob: the share of batches mixed at all
    switch_prob: float  # timm's switch_prob: with both on, the share of mixed batches that CutMix
    num_classes: int
    rng: np.random.Generator

    def draw(self, h: int, w: int) -> Mix | None:
        if self.rng.random() >= self.prob:
            return None
        cut = self.cutmix_alpha > 0 and (self.mixup_alpha <= 0 or self.rng.random() < self.switch_prob)
        alpha = self.cutmix_alpha if cut else self.mixup_alpha
        lam = float(self.rng.beta(alpha, alpha))
        if not cut:
            return Mix(lam)
        box, lam = cutmix_box(lam, h, w, self.rng)
        return Mix(lam, box)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch mixed and its targets as probabilities (n, classes): the loss is the cross
        entropy against them, label smoothing applied on top (as timm's mixup_target)."""
        return mix(images, labels, self.draw(*images.shape[-2:]), self.num_classes)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def restore(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def mix(images: torch.Tensor, labels: torch.Tensor, how: Mix | None, num_classes: int):
    targets = F.one_hot(labels, num_classes).float()
    if how is None:
        return images, targets
    mixed_targets = targets.roll(1, 0).mul_(1.0 - how.lam).add_(targets.mul(how.lam))
    if how.box is None:
        return images.roll(1, 0).mul_(1.0 - how.lam).add_(images.mul(how.lam)), mixed_targets
    x1, y1, x2, y2 = how.box
    mixed = images.clone()
    mixed[..., y1:y2, x1:x2] = images.roll(1, 0)[..., y1:y2, x1:x2]
    return mixed, mixed_targets


def make_mixer(config, num_classes: int) -> Mixer | None:
    """The run's mixer, or None when neither mixup nor cutmix is on."""
    if not (config.mixup > 0 or config.cutmix > 0):
        return None
    rng = np.random.default_rng(config.seed)
    return Mixer(config.mixup, config.cutmix, config.mix_prob, config.mix_switch_prob, num_classes, rng)
