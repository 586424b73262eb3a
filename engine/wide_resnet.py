"""Wide-ResNet-d-k (Zagoruyko & Komodakis 2016) for 32x32 images: a 3x3 conv of 16, three stages
of (d - 4) / 6 pre-activation blocks of 16k, 32k and 64k channels (the last two starting with
stride 2), dropout between each block's convolutions if asked (the paper's 0.3), BN-ReLU, global
average pooling and a linear layer. A block whose shape changes has a 1x1 convolution shortcut
that takes the pre-activated input (WRN-28-10: 36.5M parameters). Weights start as
xternalz/WideResNet-pytorch starts them (Kaiming-normal fan-out convolutions, zero biases)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class WideBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        changes = stride != 1 or channels_in != channels_out
        self.projection = nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False) if changes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = F.relu(self.bn1(x))
        out = self.conv2(self.dropout(F.relu(self.bn2(self.conv1(activated)))))
        return out + (self.projection(activated) if self.projection is not None else x)


class WideResNet(nn.Module):
    def __init__(self, depth: int, width: int, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        if depth < 10 or (depth - 4) % 6 or width < 1:
            raise ValueError(f"a Wide-ResNet is d-k with d = 6n + 4 (16, 28, 40) and k >= 1; got {depth}-{width}")
        blocks = (depth - 4) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        stages, channels_in = [], 16
        for channels, stride in ((16 * width, 1), (32 * width, 2), (64 * width, 2)):
            stage = [WideBlock(channels_in, channels, stride, dropout)]
            stage += [WideBlock(channels, channels, 1, dropout) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            channels_in = channels
        self.stages = nn.Sequential(*stages)
        self.bn = nn.BatchNorm2d(channels_in)
        self.linear = nn.Linear(channels_in, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.stages(self.conv1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))
