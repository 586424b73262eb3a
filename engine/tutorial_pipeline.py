"""The tutorial's own training pipeline, kept as the baseline that benchmarks compare against.

torchvision DataLoader over PIL images, per-image RandomHorizontalFlip + ToTensor + Normalize
on the host, batch 64, Adam, `.item()` every 100 steps: as the tutorial wrote it.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import transforms

from .config import RunConfig
from .data import Split
from .device import resolve_device
from .models import build_model


class PILDataset(torch.utils.data.Dataset):
    """A split as a list of PIL images, like torchvision's CIFAR10 class serves them."""

    def __init__(self, split: Split, transform):
        to_pil = transforms.ToPILImage()
        self.images = [to_pil(image) for image in split.images]
        self.labels = split.labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(self.images[index]), self.labels[index]


def tutorial_images_per_s(config: RunConfig, train: Split, max_batches: int | None = None) -> float:
    """Train like the tutorial for one epoch (or max_batches) and return images per second."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    transform = transforms.Compose(
        [
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )
    loader = DataLoader(PILDataset(train, transform), batch_size=config.batch_size, shuffle=True)
    model = build_model(config.model, 10, config.dropout, config.init).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    images = 0
    start = time.perf_counter()
    for batch_idx, (data, target) in enumerate(loader):
        if max_batches is not None and batch_idx >= max_batches:
            break
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
        images += len(target)
        if batch_idx % 100 == 0:
            loss.item()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return images / (time.perf_counter() - start)
