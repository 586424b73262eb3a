"""The ResNets CIFAR papers compare against, for 32x32 images.

- `CifarResNet(depth)`: He et al. 2016's CIFAR ResNets (section 4.2): a 3x3 conv of 16, three
  stages of (depth - 2) / 6 basic blocks of 16, 32 and 64 channels (the last two starting with
  stride 2), global average pooling, a linear layer. Option A shortcuts: where a stage halves the
  image and doubles the channels, the shortcut subsamples and pads the new channels with zeros,
  so the shortcuts have no weights (ResNet-20: 0.27M parameters, ResNet-110: 1.7M).
- `PreActResNet18`: He et al. 2016b's pre-activation blocks in ResNet-18's 64-512 layout, with
  a 3x3 stem and 1x1 convolution shortcuts, as kuangliu/pytorch-cifar has it (no BatchNorm before
  the pooling: its table's 95.11% is of that net).

Weights start as the references start them: Kaiming-normal convolutions and linear layer
(akamaster/pytorch_resnet_cifar10) for the CIFAR ResNets; torch's defaults for PreActResNet-18.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(channels_in: int, channels_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN, plus the shortcut, then ReLU."""

    def __init__(self, channels_in: int, channels_out: int, stride: int):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(channels_in, channels_out, stride), nn.BatchNorm2d(channels_out)
        self.conv2, self.bn2 = conv3x3(channels_out, channels_out), nn.BatchNorm2d(channels_out)
        self.pad = channels_out - channels_in  # option A: the new channels of the shortcut are zeros
        self.stride = stride

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1 and not self.pad:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int, num_classes: int = 10):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet's depth is 6n + 2 (20, 32, 44, 56, 110); got {depth}")
        blocks = (depth - 2) // 6
        self.conv1, self.bn1 = conv3x3(3, 16), nn.BatchNorm2d(16)
        stages, channels_in = [], 16
        for channels, stride in ((16, 1), (32, 2), (64, 2)):
            stage = [BasicBlock(channels_in, channels, stride)]
            stage += [BasicBlock(channels, channels, 1) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            channels_in = channels
        self.stages = nn.Sequential(*stages)
        self.linear = nn.Linear(64, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(F.relu(self.bn1(self.conv1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


class PreActBlock(nn.Module):
    """BN-ReLU-conv-BN-ReLU-conv plus the shortcut; a 1x1 convolution shortcut, where the shape
    changes, takes the pre-activated input."""

    def __init__(self, channels_in: int, channels_out: int, stride: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(channels_in), conv3x3(channels_in, channels_out, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(channels_out), conv3x3(channels_out, channels_out)
        changes = stride != 1 or channels_in != channels_out
        self.projection = nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False) if changes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        shortcut = self.projection(out) if self.projection is not None else x
        out = self.conv2(F.relu(self.bn2(self.conv1(out))))
        return out + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = conv3x3(3, 64)
        stages, channels_in = [], 64
        for channels, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(nn.Sequential(PreActBlock(channels_in, channels, stride), PreActBlock(channels, channels, 1)))
            channels_in = channels
        self.stages = nn.Sequential(*stages)
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stages(self.conv1(x))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))
