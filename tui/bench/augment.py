"""`cifar-tui bench augment`: what each augmentation costs, in one process.

1. Training speed (seed-cnn, synthetic data) with each augmentation on, against off: each run
   with it between two without it, the median of three such rounds (a small machine's speed
   drifts by more than 5%).
2. The augmentation alone, on batches of 512 images (normalised ones; uint8 ones for the
   policies): ours (a whole batch of tensor ops on the device) against torchvision.transforms.v2
   the way the field runs it, image by image in a DataLoader with a worker per core (MixUp and
   CutMix in its collate_fn, as torchvision's guide does).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

AUGMENTATIONS = {  # name -> the config fields that turn it on
    "cutout": dict(cutout=16),
    "erasing": dict(erasing=0.5),
    "mixup": dict(mixup=1.0),
    "cutmix": dict(cutmix=1.0),
    "autoaugment": dict(augment_policy="autoaugment"),
    "randaugment": dict(augment_policy="randaugment"),
    "trivialaugment": dict(augment_policy="trivialaugment"),
    "augmix": dict(augment_policy="augmix"),
}
POLICIES = ("autoaugment", "randaugment", "trivialaugment", "augmix")
BATCH = 512
ROUNDS = 3


def bench_augment(device: str, batches: int, images: int) -> dict[str, Any]:
    from ...engine.device import resolve_device

    torch_device = resolve_device(device)
    result: dict[str, Any] = {"device": str(torch_device), "workers": _workers()}
    result |= training_costs(device, batches)
    result |= alone(torch_device, images)
    return result


def training_costs(device: str, batches: int) -> dict[str, Any]:
    from ...engine.config import make_config
    from ...engine.data import synthetic
    from ...engine.device import resolve_device
    from ...engine.events import EpochEnd
    from ...engine.train import train

    base = make_config("seed-cnn", dataset="synthetic", device=device, epochs=1, limit_batches=batches)
    data = synthetic(n_train=batches * base.batch_size, n_test=1000).to(resolve_device(device))

    def rate(fields: dict) -> float:
        ends: list[EpochEnd] = []
        train(0, base.replace(**fields), lambda e: ends.append(e) if isinstance(e, EpochEnd) else None, data=data)
        return ends[-1].images_per_s

    rate({})  # warm-up: kernels, allocator
    # A small shared machine's speed drifts by more than 5% within a minute: each augmentation's
    # run sits between two runs without it and is priced against their mean, and each price is
    # the median of ROUNDS such rounds
    offs: list[float] = []
    prices: dict[str, list[float]] = {name: [] for name in AUGMENTATIONS}
    for _ in range(ROUNDS):
        before = rate({})
        offs.append(before)
        for name, fields in AUGMENTATIONS.items():
            on, after = rate(fields), rate({})
            prices[name].append(on / ((before + after) / 2))
            offs.append(after)
            before = after
    result: dict[str, Any] = {"training img_s (off)": round(statistics.median(offs))}
    for name in AUGMENTATIONS:
        result[f"training with {name} vs off"] = round(statistics.median(prices[name]), 3)
    return result


def alone(device, images: int) -> dict[str, Any]:
    """images/s of each augmentation by itself: ours on the device against torchvision's pipeline."""
    import torch

    from ...engine.erasing import cutout, random_erasing
    from ...engine.mixing import make_mixer
    from ...engine.policies import make_policy

    batches = max(1, images // BATCH)
    data = torch.randn(batches * BATCH, 3, 32, 32)
    labels = torch.randint(0, 10, (batches * BATCH,))
    pixels = torch.randint(0, 256, (batches * BATCH, 3, 32, 32), dtype=torch.uint8)
    on_device, pixels_on_device = data.to(device), pixels.to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    mixer = make_mixer(_config(mixup=1.0), 10)
    cutmixer = make_mixer(_config(cutmix=1.0), 10)
    ours = {
        "cutout": lambda x, y: (cutout(x, generator, 16), y),
        "erasing": lambda x, y: (random_erasing(x, generator, 0.5, (0.02, 0.33), (0.3, 3.3), 0.0), y),
        "mixup": mixer,
        "cutmix": cutmixer,
    }
    for name in POLICIES:
        policy = make_policy(_config(**AUGMENTATIONS[name]), generator)
        ours[name] = lambda x, y, policy=policy: (policy(x), y)
    result: dict[str, Any] = {}
    for name, augment in ours.items():
        inputs, originals = (pixels_on_device, pixels) if name in POLICIES else (on_device, data)

        def ours_on_every_batch(augment=augment, inputs=inputs):
            for i in range(0, len(inputs), BATCH):
                augment(inputs[i : i + BATCH], labels[i : i + BATCH].to(device))

        mine = _rate(ours_on_every_batch, len(data), device)
        theirs = _torchvision_rate(name, originals, labels)
        result[f"{name} alone img_s (ours, torchvision)"] = f"{mine:,.0f}, {theirs:,.0f}"
        result[f"{name} alone: ours vs torchvision"] = round(mine / theirs, 1)
    return result


def _config(**fields):
    from ...engine.config import make_config

    return make_config("seed-cnn", **fields)


def _rate(work, count: int, device) -> float:
    import torch

    work()  # warm-up
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        work()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = max(best, count / (time.perf_counter() - start))
    return best


def _workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class _PerImage:
    """A dataset whose every item goes through a torchvision transform (picklable for workers)."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = self.images[index]
        return (self.transform(image) if self.transform else image), self.labels[index]


class _MixingCollate:
    def __init__(self, mix):
        self.mix = mix

    def __call__(self, items):
        from torch.utils.data import default_collate

        return self.mix(*default_collate(items))


def _torchvision_rate(name: str, images, labels) -> float:
    from torch.utils.data import DataLoader
    from torchvision.transforms import v2

    per_image = {
        # torchvision has no cutout: its RandomErasing always on, with cutout 16's area and shape
        "cutout": v2.RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0),
        "erasing": v2.RandomErasing(p=0.5, value=0),
        "autoaugment": v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10),
        "randaugment": v2.RandAugment(),
        "trivialaugment": v2.TrivialAugmentWide(),
        "augmix": v2.AugMix(),
    }
    mixing = {"mixup": v2.MixUp(alpha=1.0, num_classes=10), "cutmix": v2.CutMix(alpha=1.0, num_classes=10)}
    dataset = _PerImage(images, labels, per_image.get(name))
    collate = _MixingCollate(mixing[name]) if name in mixing else None
    loader = DataLoader(dataset, batch_size=BATCH, num_workers=_workers(), collate_fn=collate, persistent_workers=True)

    def work():
        for _ in loader:
            pass

    import torch

    return _rate(work, len(images), torch.device("cpu"))
