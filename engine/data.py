"""A dataset as uint8 tensors on the training device, the synthetic stand-in, and its batches.

Augmentation and normalisation are tensor ops on a whole batch: no PIL, no DataLoader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .cifar_classes import CLASSES


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be had: the message says where to put it by hand."""


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # (N, 3, 32, 32) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return self.labels.shape[0]

    def to(self, device: torch.device | str) -> Split:
        return Split(self.images.to(device), self.labels.to(device))


@dataclass(frozen=True)
class Dataset:
    train: Split
    test: Split
    classes: tuple[str, ...] = CLASSES
    files: str = ""  # CIFAR files: "official (md5)", or which are not; "" for other datasets

    def to(self, device: torch.device | str) -> Dataset:
        return Dataset(self.train.to(device), self.test.to(device), self.classes, self.files)


# ---------------------------------------------------------------- synthetic


def synthetic(n_train: int = 50_000, n_test: int = 10_000, seed: int = 0) -> Dataset:
    """CIFAR-shaped, deterministic and learnable: each class is a smooth colour pattern.

    An image blends a random 32x32 window of its class's 40x40 pattern with a fainter window
    of another class's, plus pixel noise. Blends at 50/50 are ambiguous, so no model passes
    about 90%, while a small CNN passes 50% within one epoch. Each image is two indexes into
    small banks of windows plus noise: well under a second for 60k images.
    """
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(10, 3, 4, 4, generator=g)
    patterns = F.interpolate(coarse, size=40, mode="bicubic", align_corners=False)
    patterns = (patterns - patterns.amin()) / (patterns.amax() - patterns.amin())
    windows = patterns.unfold(2, 32, 1).unfold(3, 32, 1)  # (10, 3, 9, 9, 32, 32)
    windows = windows.permute(0, 2, 3, 1, 4, 5).reshape(1, 10, 81, 3, 32, 32)
    weights = torch.tensor([0.5, 0.6, 0.7, 0.85]).view(4, 1, 1, 1, 1, 1)
    main_bank = (windows * weights * 160).to(torch.uint8)  # (4 weights, 10 classes, 81 windows, 3, 32, 32)
    other_bank = (windows * (1 - weights) * 160).to(torch.uint8)
    splits = []
    for n in (n_train, n_test):
        labels = torch.randint(0, 10, (n,), generator=g)
        others = (labels + torch.randint(1, 10, (n,), generator=g)) % 10
        weight = torch.randint(0, 4, (n,), generator=g)
        window, other_window = torch.randint(0, 81, (2, n), generator=g)
        noise = torch.empty(n * 3 * 32 * 32 // 8 + 1, dtype=torch.int64).random_(generator=g)
        noise = noise.view(torch.uint8)[: n * 3 * 32 * 32].view(n, 3, 32, 32) >> 2  # uniform 0..63
        images = main_bank[weight, labels, window] + other_bank[weight, others, other_window] + noise
        splits.append(Split(images, labels))
    return Dataset(splits[0], splits[1])


def _gather(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Image i's pixels at rows[i] x cols[i] (each (n, size) indices), for all i in one gather."""
    n, c = images.shape[:2]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return images[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


# ---------------------------------------------------------------- batches on the device


def train_batches(
    split: Split,
    batch_size: int,
    generator: torch.Generator,
    hflip: bool,
    crop: bool,
    drop_last: bool = False,
    translate: int = 0,
    flips: torch.Tensor | None = None,
    policy: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of shuffled, augmented, normalised batches, all on the split's device.
    `flips` (one bool an image: alternating_flips) replaces hflip's coin tosses; `policy` (an
    augmentation policy of uint8 batches) comes after the crops and flips, as in torchvision's
    usual pipeline."""
    n = len(split)
    order = torch.randperm(n, generator=generator, device=generator.device).to(split.labels.device)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    # A policy's ops cost per call more than per image: it augments several batches at a time
    # (POLICY_CHUNK images), each image still on its own.
    per_chunk = max(1, POLICY_CHUNK // batch_size) if policy is not None else 1
    for chunk_start in range(0, stop, batch_size * per_chunk):
        index = order[chunk_start : min(stop, chunk_start + batch_size * per_chunk)]
        images = split.images[index]
        if crop:
            images = random_crop(images, generator)
        if translate:
            images = random_translate(images, generator, translate)
        if flips is not None:
            images = torch.where(flips[index][:, None, None, None], images.flip(3), images)
        elif hflip:
            images = random_hflip(images, generator)
        if policy is not None:
            images = policy(images)
        labels = split.labels[index]
        for start in range(0, len(index), batch_size):
            yield normalize(images[start : start + batch_size]), labels[start : start + batch_size]


POLICY_CHUNK = 512


def alternating_flips(n: int, seed: int, epoch: int, device: torch.device | str) -> torch.Tensor:
    """airbench's derandomised flips: a random half of the images (fixed by the seed) is flipped
    in odd epochs, the other half in even ones, so each image is seen both ways every two epochs."""
    first = torch.rand(n, generator=torch.Generator().manual_seed(seed)) < 0.5
    return (first ^ (epoch % 2 == 0)).to(device)


def eval_batches(split: Split, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The test split in order, never augmented (the tutorial flipped test images; we do not)."""
    for start in range(0, len(split), batch_size):
        yield normalize(split.images[start : start + batch_size]), split.labels[start : start + batch_size]


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] to float in [-1, 1]: ToTensor then Normalize(0.5, 0.5)."""
    return images.float().mul_(2 / 255).sub_(1)


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(images.shape[0], generator=generator, device=generator.device) < 0.5
    flip = flip.to(images.device)[:, None, None, None]
    return torch.where(flip, images.flip(3), images)


def random_crop(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """RandomCrop(32, padding=4) for a whole batch: zero-pad, then one gather per batch."""
    n, _, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=generator.device)
    offsets = offsets.to(images.device)
    rows = torch.arange(h, device=images.device)[None, :] + offsets[:, :1]
    cols = torch.arange(w, device=images.device)[None, :] + offsets[:, 1:]
    return _gather(padded, rows, cols)


def random_translate(images: torch.Tensor, generator: torch.Generator, pixels: int) -> torch.Tensor:
    """Shift each image by up to `pixels` both ways, the edge mirrored in (reflect padding), in
    one gather per batch."""
    n, _, h, w = images.shape
    shifts = torch.randint(-pixels, pixels + 1, (n, 2), generator=generator, device=generator.device)
    shifts = shifts.to(images.device)
    rows = _reflect(torch.arange(h, device=images.device)[None, :] + shifts[:, :1], h)
    cols = _reflect(torch.arange(w, device=images.device)[None, :] + shifts[:, 1:], w)
    return _gather(images, rows, cols)


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Indices past an edge mirrored back inside, as F.pad's "reflect" does (-1 -> 1, size -> size-2)."""
    index = index.abs()
    return torch.where(index >= size, 2 * (size - 1) - index, index)
