"""Cutout and random erasing for a whole batch on the device: each image's box drawn on its own,
all boxes applied in one masked write (no per-image loop). Both act on the normalised batch, as
DeVries & Taylor's cutout and timm's random erasing do, so a value of 0 is the mid grey.

Given the same box, `erase` equals torchvision.transforms.v2.functional.erase image by image.
"""

from __future__ import annotations

import math

import torch

ATTEMPTS = 10  # RandomErasing's tries at a box that fits before it leaves an image as it is


def erase(
    images: torch.Tensor,
    top: torch.Tensor,
    left: torch.Tensor,
    height: torch.Tensor,
    width: torch.Tensor,
    value: float | torch.Tensor,
) -> torch.Tensor:
    """Image i's rows top[i] .. top[i]+height[i]-1 and columns left[i] .. left[i]+width[i]-1 set to
    value (a number, or a tensor shaped like images whose pixels are taken inside the boxes); a
    box of height or width 0 leaves its image as it is."""
    h, w = images.shape[-2:]
    rows = torch.arange(h, device=images.device)[None, :]
    cols = torch.arange(w, device=images.device)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + height)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + width)[:, None])
    # A product with a 0/1 mask: on a CPU 4x faster than torch.where with the same boolean mask.
    inside = in_rows.to(images.dtype)[:, None, :, None] * in_cols.to(images.dtype)[:, None, None, :]
    if isinstance(value, torch.Tensor):
        return torch.where(inside.bool(), value, images)
    outside = 1 - inside
    erased = images * outside
    return erased.add_(inside, alpha=value) if value else erased


def cutout_boxes(
    n: int, h: int, w: int, size: int, generator: torch.Generator, inside: bool = False
) -> tuple[torch.Tensor, ...]:
    """DeVries & Taylor's boxes: a size x size square around a centre drawn uniformly over the
    image, clipped at its edges (so a box near an edge is smaller). inside: airbench96's, the
    square's corner drawn uniformly over the places where all of it fits."""
    device = generator.device
    if inside:
        tall, wide = min(size, h), min(size, w)
        top = torch.randint(0, h - tall + 1, (n,), generator=generator, device=device)
        left = torch.randint(0, w - wide + 1, (n,), generator=generator, device=device)
        return top, left, torch.full_like(top, tall), torch.full_like(left, wide)
    centre_y = torch.randint(0, h, (n,), generator=generator, device=device)
    centre_x = torch.randint(0, w, (n,), generator=generator, device=device)
    top, bottom = (centre_y - size // 2).clamp(0, h), (centre_y + size // 2).clamp(0, h)
    left, right = (centre_x - size // 2).clamp(0, w), (centre_x + size // 2).clamp(0, w)
    return top, left, bottom - top, right - left


def cutout(images: torch.Tensor, generator: torch.Generator, size: int, inside: bool = False) -> torch.Tensor:
    n, _, h, w = images.shape
    boxes = [b.to(images.device) for b in cutout_boxes(n, h, w, size, generator, inside)]
    return erase(images, *boxes, 0.0)


def erasing_boxes(
    n: int,
    h: int,
    w: int,
    p: float,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
) -> tuple[torch.Tensor, ...]:
    """torchvision's RandomErasing boxes for n images at once: with probability p, the first of
    10 tries whose area (a share of the image drawn from scale) and aspect ratio (log-uniform
    over ratio) fits inside, at a uniform position; otherwise a box of size 0."""
    device = generator.device
    draws = torch.rand(n, 2 * ATTEMPTS + 3, generator=generator, device=device)
    area = h * w * (scale[0] + (scale[1] - scale[0]) * draws[:, :ATTEMPTS])
    low, high = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(low + (high - low) * draws[:, ATTEMPTS : 2 * ATTEMPTS])
    heights = torch.sqrt(area * aspect).round().long()
    widths = torch.sqrt(area / aspect).round().long()
    fits = (heights < h) & (widths < w)
    first = fits.int().argmax(1, keepdim=True)  # the first try that fits (0 when none does)
    height, width = heights.gather(1, first)[:, 0], widths.gather(1, first)[:, 0]
    erased = fits.any(1) & (draws[:, -3] < p)
    height, width = torch.where(erased, height, 0), torch.where(erased, width, 0)
    top = (draws[:, -2] * (h - height + 1)).long().clamp(max=h - height)
    left = (draws[:, -1] * (w - width + 1)).long().clamp(max=w - width)
    return top, left, height, width


def random_erasing(
    images: torch.Tensor,
    generator: torch.Generator,
    p: float,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    value: float | None,
) -> torch.Tensor:
    """value None: each erased pixel a standard normal draw (RandomErasing's value="random")."""
    n, c, h, w = images.shape
    boxes = [b.to(images.device) for b in erasing_boxes(n, h, w, p, scale, ratio, generator)]
    if value is None:
        noise = torch.randn(images.shape, generator=generator, device=generator.device, dtype=torch.float32)
        return erase(images, *boxes, noise.to(images.device, images.dtype))
    return erase(images, *boxes, value)
