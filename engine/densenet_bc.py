"""DenseNet-BC-(L, k) (Huang et al. 2017) for 32x32 images: a 3x3 conv of 2k channels, three
dense blocks of (L - 4) / 6 bottleneck layers (BN-ReLU-1x1 conv of 4k, BN-ReLU-3x3 conv of k,
concatenated to the input), joined by transitions that halve the channels (compression 0.5) and
the image (BN-ReLU-1x1 conv, 2x2 average pooling), then BN-ReLU, global average pooling and a
linear layer (L=100, k=12: 0.8M parameters). Weights start as the paper's code starts them
(normal convolutions of std sqrt(2 / (k*k*out)), zero linear bias), as
andreasveit/densenet-pytorch has it."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Bottleneck(nn.Module):
    def __init__(self, channels_in: int, growth: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(channels_in), nn.Conv2d(channels_in, 4 * growth, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(4 * growth), nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        return torch.cat([x, new], 1)


class Transition(nn.Module):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.bn, self.conv = nn.BatchNorm2d(channels_in), nn.Conv2d(channels_in, channels_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNetBC(nn.Module):
    def __init__(self, depth: int = 100, growth: int = 12, num_classes: int = 10):
        super().__init__()
        if depth < 10 or (depth - 4) % 6 or growth < 1:
            raise ValueError(f"a DenseNet-BC has L = 6n + 4 (40, 100, 190) and k >= 1; got L={depth}, k={growth}")
        layers = (depth - 4) // 6
        channels = 2 * growth
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        parts: list[nn.Module] = []
        for block in range(3):
            for i in range(layers):
                parts.append(Bottleneck(channels + i * growth, growth))
            channels += layers * growth
            if block < 2:
                parts.append(Transition(channels, channels // 2))
                channels //= 2
        self.features = nn.Sequential(*parts)
        self.bn = nn.BatchNorm2d(channels)
        self.linear = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.features(self.conv1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))
