"""airbench94's network (Keller Jordan, 2024), written from its published description: a 2x2
convolution initialised to whiten the image patches, three blocks of conv, max-pool, BatchNorm,
GELU, conv, BatchNorm, GELU (widths 64, 256, 256), a max-pool and a bias-free linear layer whose
logits are scaled by 1/9. Convolutions start as identities (dirac) on their first channels;
BatchNorm keeps a fixed scale (only its bias learns) and fast statistics (momentum 0.6)."""

from __future__ import annotations

import torch
from torch import nn

WIDTHS = (64, 256, 256)
WHITEN_KERNEL = 2
WHITEN_EPS = 5e-4
LOGIT_SCALE = 1 / 9


def conv(channels_in: int, channels_out: int) -> nn.Conv2d:
    layer = nn.Conv2d(channels_in, channels_out, 3, padding="same", bias=False)
    with torch.no_grad():
        nn.init.dirac_(layer.weight[:channels_in])  # the first filters pass their input through
    return layer


NORM_MOMENTUM = 0.4  # airbench94's and 95's "batchnorm momentum 0.6" is torch's 0.4
NORM_MOMENTUM_96 = 0.1  # airbench96 keeps torch's default


def norm(channels: int, momentum: float = NORM_MOMENTUM) -> nn.BatchNorm2d:
    layer = nn.BatchNorm2d(channels, eps=1e-12, momentum=momentum)
    layer.weight.requires_grad = False
    return layer


class Block(nn.Sequential):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__(
            conv(channels_in, channels_out),
            nn.MaxPool2d(2),
            norm(channels_out),
            nn.GELU(),
            conv(channels_out, channels_out),
            norm(channels_out),
            nn.GELU(),
        )


class ResidualBlock(nn.Module):
    """airbench96's block: airbench94's first conv, max-pool, BatchNorm and GELU, then two convs
    with a residual connection over them (conv, BN, GELU, conv, BN, the sum, GELU)."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.head = nn.Sequential(
            conv(channels_in, channels_out), nn.MaxPool2d(2), norm(channels_out, NORM_MOMENTUM_96), nn.GELU()
        )
        self.body = nn.Sequential(
            conv(channels_out, channels_out),
            norm(channels_out, NORM_MOMENTUM_96),
            nn.GELU(),
            conv(channels_out, channels_out),
            norm(channels_out, NORM_MOMENTUM_96),
        )
        self.activation = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        return self.activation(x + self.body(x))


class Whitening(nn.Conv2d):
    """2x2 patches onto the eigenvectors of their covariance, each scaled to unit variance, and
    their negatives (12 directions, 24 channels). Fixed weights, a learned bias."""

    def __init__(self):
        directions = 3 * WHITEN_KERNEL**2
        super().__init__(3, 2 * directions, WHITEN_KERNEL, padding=0, bias=True)
        self.weight.requires_grad = False
        with torch.no_grad():
            self.bias.zero_()

    @torch.no_grad()
    def whiten(self, images: torch.Tensor) -> None:
        c, k = images.shape[1], WHITEN_KERNEL
        patches = images.float().unfold(2, k, 1).unfold(3, k, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, c * k * k)
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        scaled = (eigenvectors / torch.sqrt(eigenvalues + WHITEN_EPS)).T.flip(0).reshape(-1, c, k, k)
        self.weight.copy_(torch.cat((scaled, -scaled)))


WIDTHS_95 = (128, 384, 384)  # airbench95's (legacy/airbench95.py): wider, the rest as airbench94
WIDTHS_96 = (128, 384, 512)  # airbench96's (legacy/airbench96.py), with its ResidualBlock


class AirbenchNet(nn.Sequential):
    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = WIDTHS, block: type[nn.Module] = Block):
        whitening = Whitening()
        channels = (whitening.out_channels, *widths)
        super().__init__(
            whitening,
            nn.GELU(),
            *(block(a, b) for a, b in zip(channels, channels[1:])),
            nn.MaxPool2d(3),
            nn.Flatten(),
            nn.Linear(widths[-1], num_classes, bias=False),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return super().forward(images) * LOGIT_SCALE

    @property
    def whitening_bias(self) -> nn.Parameter:
        """The first layer's bias: the engine may train it for the first epochs only."""
        return self[0].bias

    def data_init(self, images: torch.Tensor) -> None:
        """Whiten the first layer on training images (the engine calls this before training)."""
        self[0].whiten(images)
