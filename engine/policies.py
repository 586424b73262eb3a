"""The augmentation policies, each image drawing its own operations: AutoAugment's CIFAR-10 policy
(Cubuk et al. 2019), RandAugment (Cubuk et al. 2020), TrivialAugment Wide (Müller & Hutter 2021)
and AugMix (Hendrycks et al. 2020), as torchvision.transforms.v2 has them (its operation lists,
magnitude tables, probabilities and defaults: nearest resampling, AugMix's bilinear), but for a
whole uint8 batch on the device at once, where torchvision draws once per call. The operations
are image_ops'.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from .image_ops import OP_INDEX, apply_ops, as_float, as_uint8

MagnitudeTable = Callable[[int, int, int], "torch.Tensor | None"]  # (bins, height, width) -> values


def _linear(top: float) -> MagnitudeTable:
    return lambda bins, height, width: torch.linspace(0.0, top, bins)


def _posterize(top: int, steps: int) -> MagnitudeTable:
    return lambda bins, height, width: (top - (torch.arange(bins) / ((bins - 1) / steps))).round().int()


def _none(bins, height, width):
    return None


_SOLARIZE = (lambda bins, height, width: torch.linspace(1.0, 0.0, bins), False)
_TRANSLATE_X = (lambda bins, height, width: torch.linspace(0.0, 150.0 / 331.0 * width, bins), True)
_TRANSLATE_Y = (lambda bins, height, width: torch.linspace(0.0, 150.0 / 331.0 * height, bins), True)

# name: (magnitudes, signed), in torchvision's order
AUTOAUGMENT_SPACE: dict[str, tuple[MagnitudeTable, bool]] = {
    "ShearX": (_linear(0.3), True),
    "ShearY": (_linear(0.3), True),
    "TranslateX": _TRANSLATE_X,
    "TranslateY": _TRANSLATE_Y,
    "Rotate": (_linear(30.0), True),
    "Brightness": (_linear(0.9), True),
    "Color": (_linear(0.9), True),
    "Contrast": (_linear(0.9), True),
    "Sharpness": (_linear(0.9), True),
    "Posterize": (_posterize(8, 4), False),
    "Solarize": _SOLARIZE,
    "AutoContrast": (_none, False),
    "Equalize": (_none, False),
    "Invert": (_none, False),
}
RANDAUGMENT_SPACE = {"Identity": (_none, False), **{k: v for k, v in AUTOAUGMENT_SPACE.items() if k != "Invert"}}
TRIVIALAUGMENT_SPACE = {
    "Identity": (_none, False),
    "ShearX": (_linear(0.99), True),
    "ShearY": (_linear(0.99), True),
    "TranslateX": (_linear(32.0), True),
    "TranslateY": (_linear(32.0), True),
    "Rotate": (_linear(135.0), True),
    "Brightness": (_linear(0.99), True),
    "Color": (_linear(0.99), True),
    "Contrast": (_linear(0.99), True),
    "Sharpness": (_linear(0.99), True),
    "Posterize": (_posterize(8, 6), False),
    "Solarize": _SOLARIZE,
    "AutoContrast": (_none, False),
    "Equalize": (_none, False),
}
AUGMIX_SPACE = {
    "ShearX": (_linear(0.3), True),
    "ShearY": (_linear(0.3), True),
    "TranslateX": (lambda bins, height, width: torch.linspace(0.0, width / 3.0, bins), True),
    "TranslateY": (lambda bins, height, width: torch.linspace(0.0, height / 3.0, bins), True),
    "Rotate": (_linear(30.0), True),
    "Posterize": (_posterize(4, 4), False),
    "Solarize": _SOLARIZE,
    "AutoContrast": (_none, False),
    "Equalize": (_none, False),
    "Brightness": (_linear(0.9), True),
    "Color": (_linear(0.9), True),
    "Contrast": (_linear(0.9), True),
    "Sharpness": (_linear(0.9), True),
}
AUGMIX_BINS = 10  # torchvision's _PARAMETER_MAX: severity s draws from the first s of 10 bins

# ((op, probability, magnitude bin), (op, probability, magnitude bin)): AutoAugmentPolicy.CIFAR10
CIFAR10_POLICY = (
    (("Invert", 0.1, None), ("Contrast", 0.2, 6)),
    (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
    (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
    (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.5, None), ("Equalize", 0.9, None)),
    (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
    (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
    (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
    (("Equalize", 0.6, None), ("Equalize", 0.5, None)),
    (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
    (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
    (("Equalize", 0.3, None), ("AutoContrast", 0.4, None)),
    (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
    (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
    (("Solarize", 0.5, 2), ("Invert", 0.0, None)),
    (("Equalize", 0.2, None), ("AutoContrast", 0.6, None)),
    (("Equalize", 0.2, None), ("Equalize", 0.6, None)),
    (("Color", 0.9, 9), ("Equalize", 0.6, None)),
    (("AutoContrast", 0.8, None), ("Solarize", 0.2, 8)),
    (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
    (("Solarize", 0.4, 5), ("AutoContrast", 0.9, None)),
    (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
    (("AutoContrast", 0.9, None), ("Solarize", 0.8, 3)),
    (("Equalize", 0.8, None), ("Invert", 0.1, None)),
    (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, None)),
)

Slot = tuple[torch.Tensor, torch.Tensor]  # (ops into image_ops.OPS, signed magnitudes), one row an image


class Space:
    """An operation space as tensors on the device: each op's index in OPS, its magnitude table
    (zeros where it has none) and whether its magnitude takes a random sign."""

    def __init__(self, space: dict[str, tuple[MagnitudeTable, bool]], bins: int, h: int, w: int, device):
        tables = [table(bins, h, w) for table, _ in space.values()]
        self.ops = torch.tensor([OP_INDEX[name] for name in space], device=device)
        self.magnitudes = torch.stack(
            [torch.zeros(bins, dtype=torch.float64) if t is None else t.double() for t in tables]
        ).to(device)
        self.signed = torch.tensor([signed for _, signed in space.values()], device=device)

    def slot(self, choice: torch.Tensor, bin: torch.Tensor, generator: torch.Generator) -> Slot:
        """Op `choice` of this space at magnitude `bin`, negated for signed ops with probability 1/2."""
        magnitudes = self.magnitudes[choice, bin]
        negate = self.signed[choice] & (_uniform(len(choice), generator) <= 0.5)
        return self.ops[choice], torch.where(negate, -magnitudes, magnitudes)


SPACES = {
    "autoaugment": AUTOAUGMENT_SPACE,
    "randaugment": RANDAUGMENT_SPACE,
    "trivialaugment": TRIVIALAUGMENT_SPACE,
    "augmix": AUGMIX_SPACE,
}


@functools.lru_cache(maxsize=64)
def space_of(policy: str, bins: int, h: int, w: int, device: torch.device) -> Space:
    """A policy's space as tensors, made once per image size and device (not at every batch)."""
    return Space(SPACES[policy], bins, h, w, device)


@functools.lru_cache(maxsize=16)
def _cifar10_table(position: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The CIFAR-10 policy's op (in AUTOAUGMENT_SPACE), magnitude bin and probability at one position
    of each sub-policy."""
    names = list(AUTOAUGMENT_SPACE)
    ops = [sub[position] for sub in CIFAR10_POLICY]
    return (
        torch.tensor([names.index(op) for op, _, _ in ops], device=device),
        torch.tensor([b or 0 for _, _, b in ops], device=device),
        torch.tensor([p for _, p, _ in ops], device=device),
    )


def _uniform(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device)


def _integers(high: int, n: int, generator: torch.Generator, low: int = 0) -> torch.Tensor:
    return torch.randint(low, high, (n,), generator=generator, device=generator.device)


def autoaugment_slots(n: int, h: int, w: int, generator: torch.Generator) -> list[Slot]:
    """One of the 25 sub-policies an image, each of its two ops applied with its probability."""
    space = space_of("autoaugment", 10, h, w, generator.device)
    chosen = _integers(len(CIFAR10_POLICY), n, generator)
    slots = []
    for position in range(2):
        choices, bins, probabilities = (t[chosen] for t in _cifar10_table(position, generator.device))
        applied = _uniform(n, generator) <= probabilities
        op, magnitude = space.slot(choices, bins, generator)
        slots.append((torch.where(applied, op, OP_INDEX["Identity"]), torch.where(applied, magnitude, 0.0)))
    return slots


def randaugment_slots(n: int, h: int, w: int, generator: torch.Generator, ops: int, magnitude: int) -> list[Slot]:
    """`ops` ops an image, each uniform over the space, all at magnitude bin `magnitude` of 31."""
    space = space_of("randaugment", 31, h, w, generator.device)
    bin = torch.full((n,), magnitude, device=generator.device)
    return [space.slot(_integers(len(RANDAUGMENT_SPACE), n, generator), bin, generator) for _ in range(ops)]


def trivialaugment_slots(n: int, h: int, w: int, generator: torch.Generator) -> list[Slot]:
    """One op an image, uniform over the wide space, at a uniform magnitude bin of 31."""
    space = space_of("trivialaugment", 31, h, w, generator.device)
    choice = _integers(len(TRIVIALAUGMENT_SPACE), n, generator)
    return [space.slot(choice, _integers(31, n, generator), generator)]


def augment_policy(images: torch.Tensor, slots: list[Slot], interpolation: str = "nearest") -> torch.Tensor:
    for ops, magnitudes in slots:
        images = apply_ops(images, ops, magnitudes, interpolation)
    return images


class AugMixDraw:
    """What AugMix draws for n images: `chains[i][d]` is chain i's d-th op (Identity past the
    image's own depth), `mix` the Beta weight of the original and the augmented (n, 2), `weights`
    the chains' Dirichlet weights (n, width) before they are scaled by mix[:, 1]."""

    def __init__(self, chains: list[list[Slot]], mix: torch.Tensor, weights: torch.Tensor):
        self.chains, self.mix, self.weights = chains, mix, weights


def augmix_draw(
    n: int, h: int, w: int, generator: torch.Generator, severity: int, width: int, depth: int, alpha: float = 1.0
) -> AugMixDraw:
    """depth -1: each chain of each image 1 to 3 ops deep, uniformly, as torchvision's default."""
    device = generator.device
    space = space_of("augmix", AUGMIX_BINS, h, w, device)
    chains = []
    for _ in range(width):
        depths = _integers(4, n, generator, low=1) if depth <= 0 else torch.full((n,), depth, device=device)
        chain = []
        for position in range(int(depths.max())):
            op, magnitude = space.slot(
                _integers(len(AUGMIX_SPACE), n, generator), _integers(severity, n, generator), generator
            )
            deep_enough = position < depths
            chain.append((torch.where(deep_enough, op, OP_INDEX["Identity"]), torch.where(deep_enough, magnitude, 0.0)))
        chains.append(chain)
    mix = torch._sample_dirichlet(torch.full((n, 2), alpha, device=device), generator=generator)
    weights = torch._sample_dirichlet(torch.full((n, width), alpha, device=device), generator=generator)
    return AugMixDraw(chains, mix, weights)


def augmix(images: torch.Tensor, draw: AugMixDraw) -> torch.Tensor:
    """torchvision's AugMix mixing: mix[:, 0] * image + sum over chains of weight * chain(image),
    truncated to uint8; its ops resample bilinearly. The chains run side by side as one batch."""
    n, width = len(images), len(draw.chains)
    identity = (torch.full((n,), OP_INDEX["Identity"], device=images.device), torch.zeros(n, device=images.device))
    depth = max(len(chain) for chain in draw.chains)
    slots = [
        tuple(torch.cat(parts) for parts in zip(*(chain[d] if d < len(chain) else identity for chain in draw.chains)))
        for d in range(depth)
    ]
    chained = augment_policy(images.repeat(width, 1, 1, 1), slots, "bilinear").view(width, *images.shape)
    combined = draw.weights * draw.mix[:, 1:2]
    # torchvision's products and sums, each rounded as its are; a uint8 tensor made float first,
    # as its product does, and multiplied in place (3x faster than a mixed-dtype product on a CPU)
    mixed = as_float(images).mul_(draw.mix[:, 0, None, None, None])
    for i in range(width):
        mixed.add_(as_float(chained[i]).mul_(combined[:, i, None, None, None]))
    return as_uint8(mixed)


def make_policy(config, generator: torch.Generator) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The run's augment_policy as a function of a uint8 batch, drawing from the run's generator;
    None when it is none."""
    name = config.augment_policy
    if name == "none":
        return None

    def policy(images: torch.Tensor) -> torch.Tensor:
        n, _, h, w = images.shape
        if name == "augmix":
            draw = augmix_draw(n, h, w, generator, config.augmix_severity, config.augmix_width, config.augmix_depth)
            return augmix(images, draw)
        if name == "autoaugment":
            slots = autoaugment_slots(n, h, w, generator)
        elif name == "randaugment":
            slots = randaugment_slots(n, h, w, generator, config.randaugment_n, config.randaugment_m)
        else:
            slots = trivialaugment_slots(n, h, w, generator)
        return augment_policy(images, slots)

    return policy
