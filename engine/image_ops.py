"""The fifteen image operations of AutoAugment, RandAugment, TrivialAugment and AugMix, for a whole
uint8 batch on the device, each image with its own operation and magnitude.

`apply_ops(images, ops, magnitudes)` gives image i what torchvision's
`_AutoAugmentBase._apply_image_or_video_transform(image_i, OPS[ops[i]], magnitudes[i])` gives it:
the same calls of torchvision.transforms.v2.functional, written once for per-image parameters
(the affine matrices, blend factors, bit masks and thresholds are tensors, one row an image).
The operations without a parameter (autocontrast, equalize, invert) are torchvision's own, which
take batches. A magnitude is the signed value torchvision passes, e.g. 0.3 for a shear, -9 for a
translation of 9 pixels to the left, 0.5 for a brightness factor of 1.5.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torchvision.transforms.v2 import functional as tvf

OPS = (
    "Identity",
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
    "Rotate",
    "Brightness",
    "Color",
    "Contrast",
    "Sharpness",
    "Posterize",
    "Solarize",
    "AutoContrast",
    "Equalize",
    "Invert",
)
OP_INDEX = {name: i for i, name in enumerate(OPS)}
DEGREES = 180.0 / math.pi  # math.degrees' factor, and its inverse math.radians'


def apply_ops(
    images: torch.Tensor, ops: torch.Tensor, magnitudes: torch.Tensor, interpolation: str = "nearest"
) -> torch.Tensor:
    """uint8 images (N, C, H, W); ops (N,) indices into OPS; magnitudes (N,) float64. The ops of a
    kind run as one call (the five geometric ones one warp, the three blends one blend): a small
    batch pays for few kernels. The images are sorted by kind once, so each kind takes a slice."""
    kinds = _KIND_OF_OP.to(ops.device)[ops]
    order = torch.argsort(kinds, stable=True)
    counts = torch.bincount(kinds, minlength=len(KINDS) + 1).tolist()  # the last: Identity
    images_by_kind, ops_by_kind = images.index_select(0, order), ops[order]  # index_select: 5x a [order]
    magnitudes_by_kind = magnitudes[order].double()
    pieces, start = [], 0
    for (_, kernel), count in zip(KINDS, counts):
        end = start + count
        if count:
            pieces.append(
                kernel(images_by_kind[start:end], ops_by_kind[start:end], magnitudes_by_kind[start:end], interpolation)
            )
        start = end
    pieces.append(images_by_kind[start:])
    return torch.cat(pieces).index_select(0, torch.argsort(order))


# uint8 images are made float before a product, which then runs in place: torch's product of a
# uint8 and a float tensor rounds the same, but takes three times as long on a CPU. Both casts go
# by way of int16, which on a CPU is 2x (to float) and 4x (to uint8) faster than the direct cast.


def as_float(images: torch.Tensor) -> torch.Tensor:
    return images.to(torch.int16).float()


def as_uint8(values: torch.Tensor) -> torch.Tensor:
    """Floats in 0..255 truncated to uint8, as a direct cast truncates them."""
    return values.to(torch.int16).to(torch.uint8)


def _per_image(values: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return values.to(dtype)[:, None, None, None]


def _inverse_affine(
    n: int, device, center=(0.0, 0.0), angle=None, translate=(None, None), shear=(None, None)
) -> torch.Tensor:
    """torchvision's _get_inverse_affine_matrix (scale 1) for n images in float64, each argument a
    number or an (n,) tensor of degrees or pixels."""

    def column(value) -> torch.Tensor:
        if value is None:
            return torch.zeros(n, dtype=torch.float64, device=device)
        if isinstance(value, torch.Tensor):
            return value.double()
        return torch.full((n,), float(value), dtype=torch.float64, device=device)

    rot, sx, sy = (column(v) / DEGREES for v in (angle, shear[0], shear[1]))
    cx, cy = column(center[0]), column(center[1])
    tx, ty = column(translate[0]), column(translate[1])
    cos_sy, tan_sx = torch.cos(sy), torch.tan(sx)
    a = torch.cos(rot - sy) / cos_sy
    b = -(a * tan_sx + torch.sin(rot))
    c = torch.sin(rot - sy) / cos_sy
    d = torch.cos(rot) - c * tan_sx
    m0, m1, m3, m4 = d, -b, -c, a
    m2 = cx - m0 * (cx + tx) - m1 * (cy + ty)
    m5 = cy - m3 * (cx + tx) - m4 * (cy + ty)
    return torch.stack([m0, m1, m2, m3, m4, m5], 1).reshape(n, 2, 3)


def _warp(images: torch.Tensor, matrices: torch.Tensor, interpolation: str) -> torch.Tensor:
    """torchvision's _affine_grid and _apply_grid_transform (fill None: zeros outside), one matrix an
    image."""
    n, _, h, w = images.shape
    theta = matrices.float()
    xs = torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, steps=w, device=images.device)
    ys = torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, steps=h, device=images.device)
    scaled = theta.transpose(1, 2).div_(torch.tensor([0.5 * w, 0.5 * h], device=images.device))
    # torchvision's base grid (x, y, 1) @ scaled, x * a + y * b + c rounded as its bmm rounds it,
    # with x * a made per column and y * b per row: a third of a batched bmm's time on a CPU
    by_column = xs[None, :, None] * scaled[:, None, 0, :]  # (n, w, 2)
    by_row = ys[None, :, None] * scaled[:, None, 1, :]  # (n, h, 2)
    grid = (by_column[:, None] + by_row[:, :, None]).add_(scaled[:, None, None, 2, :])
    warped = nnf.grid_sample(as_float(images), grid, mode=interpolation, padding_mode="zeros", align_corners=False)
    return as_uint8(warped.round_())


def _geometric(images, ops, magnitudes, interpolation):
    """ShearX, ShearY and Rotate as torchvision's affine and rotate make them (shears about the
    corner, rotations about the centre), one matrix an image, one warp."""
    n, _, h, w = images.shape

    def where(name: str, value: torch.Tensor | float) -> torch.Tensor:
        return torch.where(ops == OP_INDEX[name], value, torch.zeros_like(magnitudes))

    shear = torch.atan(magnitudes) * DEGREES
    sheared = (ops == OP_INDEX["ShearX"]) | (ops == OP_INDEX["ShearY"])
    centre = (torch.where(sheared, -w * 0.5, 0.0), torch.where(sheared, -h * 0.5, 0.0))
    angle = magnitudes.remainder(360.0)
    matrices = _inverse_affine(
        n,
        images.device,
        center=centre,
        angle=where("Rotate", -angle),
        shear=(where("ShearX", shear), where("ShearY", shear)),
    )
    out = _warp(images, matrices, interpolation)
    # rotate's own shortcuts for the right angles (180 only when the image is not square): exact
    quarters = torch.where(angle.remainder(90.0 if h == w else 180.0) == 0, angle // 90, -1).long()
    right = ((ops == OP_INDEX["Rotate"]) & (quarters >= 0)).nonzero()[:, 0]
    if right.numel():
        turns, upright = quarters[right], images[right]
        exact = upright
        for quarter in (1, 2, 3):
            turned = _per_image(turns == quarter).bool()
            exact = torch.where(turned, torch.rot90(upright, k=quarter, dims=(-2, -1)), exact)
        out[right] = exact
    return out


def _translate(images, ops, magnitudes, interpolation):
    """TranslateX and TranslateY by whole pixels (torchvision's int(magnitude)), zeros where the
    image moved away. torchvision warps them, but its grid lands within rounding of pixel centres,
    so its bilinear and nearest samples are the pixels themselves: a gather gives the same."""
    n, c, h, w = images.shape
    shift = magnitudes.trunc().long()
    across = ops == OP_INDEX["TranslateX"]
    rows = torch.arange(h, device=images.device) - torch.where(across, 0, shift)[:, None]  # (n, h) source rows
    cols = torch.arange(w, device=images.device) - torch.where(across, shift, 0)[:, None]
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    sources = (rows.clamp(0, h - 1)[:, :, None] * w + cols.clamp(0, w - 1)[:, None, :]).view(n, 1, h * w)
    moved = images.reshape(n, c, h * w).gather(2, sources.expand(n, c, h * w)).view(n, c, h, w)
    return moved.mul_(inside[:, None])


def _blend(images: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """torchvision's _blend: images * ratio + other * (1 - ratio), clamped, truncated to uint8."""
    keep, rest = _per_image(ratio), _per_image(1.0 - ratio)
    return as_uint8(_fused_add(as_float(images).mul_(keep), other, rest).clamp_(0, 255))


def _fused_add(a: torch.Tensor, b: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """a + alpha * b rounded once, as torch's add(a, b, alpha=...) does with a fused multiply-add
    (the float32 product is exact in float64)."""
    return a.double().addcmul_(b, alpha).float()  # in place: 20x faster than a broadcast a + b * alpha


def _grey(images: torch.Tensor) -> torch.Tensor:
    r, g, b = images.unbind(dim=-3)
    return r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).unsqueeze(-3).floor_()


def _brightness(images, ops, magnitudes, interpolation):
    """A blend with black at factor 1 + magnitude: torchvision's image * factor + 0 * (1 - factor)
    is the product exactly, so no fused add is needed."""
    return as_uint8(as_float(images).mul_(_per_image(1.0 + magnitudes)).clamp_(0, 255))


def _blends(images, ops, magnitudes, interpolation):
    """Color (a blend with the image's grey) and Contrast (with its mean grey), each at factor
    1 + magnitude, as one blend."""
    grey = _grey(images)
    mean = grey.mean(dim=(-3, -2, -1), keepdim=True)
    other = torch.where(_per_image(ops == OP_INDEX["Color"]).bool(), grey, mean)
    return _blend(images, other, 1.0 + magnitudes)


def _sharpness(images, ops, magnitudes, interpolation):
    out = as_float(images)
    inner = out[..., 1:-1, 1:-1]
    # torchvision's blur, a 3x3 convolution of 1/13 with 5/13 in the middle, then rounded: the exact
    # blur is k/13 for an integer k, never within 1/26 of a half, so k made exactly as a box sum of
    # integers (a row sum, then a column sum: far faster on a CPU than a convolution) rounds the same
    rows = out[..., :, :-2] + out[..., :, 1:-1] + out[..., :, 2:]
    box = rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]
    blurred = box.add_(inner, alpha=4).div_(13).round_()
    inner.copy_(_fused_add(inner, blurred.sub_(inner), _per_image(1.0 - (1.0 + magnitudes))))
    return as_uint8(out.clamp_(0, 255))


def _posterize(images, ops, magnitudes, interpolation):
    bits = magnitudes.trunc().long().clamp(0, 8)
    masks = ((1 << bits) - 1) << (8 - bits)
    return images & _per_image(masks, images.dtype)


def _solarize(images, ops, magnitudes, interpolation):
    threshold = _per_image(255.0 * magnitudes)
    return torch.where(images >= threshold, images.bitwise_not(), images)


KINDS = (
    (("ShearX", "ShearY", "Rotate"), _geometric),
    (("TranslateX", "TranslateY"), _translate),
    (("Brightness",), _brightness),
    (("Color", "Contrast"), _blends),
    (("Sharpness",), _sharpness),
    (("Posterize",), _posterize),
    (("Solarize",), _solarize),
    (("AutoContrast",), lambda images, ops, magnitudes, interpolation: tvf.autocontrast(images)),
    (("Equalize",), lambda images, ops, magnitudes, interpolation: tvf.equalize(images)),
    (("Invert",), lambda images, ops, magnitudes, interpolation: tvf.invert(images)),
)
_KIND_OF_OP = torch.tensor(
    [next((k for k, (names, _) in enumerate(KINDS) if name in names), len(KINDS)) for name in OPS]
)  # each op's index into KINDS; Identity's is len(KINDS)
