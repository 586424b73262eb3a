"""The batched policy ops against torchvision.transforms.v2 image by image, the policies' tables
against torchvision's by enumeration, and their draws against torchvision's by chi-square."""

from __future__ import annotations

import collections

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import chi2_contingency
from torchvision.transforms import v2

from cifar_tui.engine import policies
from cifar_tui.engine.image_ops import OP_INDEX, OPS, apply_ops

SPACES = {
    "autoaugment": (policies.AUTOAUGMENT_SPACE, v2.AutoAugment, 10),
    "randaugment": (policies.RANDAUGMENT_SPACE, v2.RandAugment, 31),
    "trivialaugment": (policies.TRIVIALAUGMENT_SPACE, v2.TrivialAugmentWide, 31),
    "augmix": (policies.AUGMIX_SPACE, v2.AugMix, 10),
}


def fabricated_images(n: int, h: int = 32, w: int = 32) -> torch.Tensor:
    """Noise, smooth gradients and a flat image: every op has edges, ranges and ties to meet."""
    g = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (n, 3, h, w), generator=g, dtype=torch.uint8)
    smooth = (F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(h, w), mode="bilinear") * 255).to(torch.uint8)
    flat = torch.full((1, 3, h, w), 77, dtype=torch.uint8)
    return torch.cat([noise, smooth, flat])


def every_magnitude(op: str, h: int, w: int) -> list[float]:
    """Each value any of the four policies can pass to op, with both signs where it is signed."""
    values = {0.0}
    for space, _, bins in SPACES.values():
        if op in space:
            table, signed = space[op]
            drawn = table(bins, h, w)
            if drawn is not None:
                values |= {float(v) for v in drawn} | ({-float(v) for v in drawn} if signed else set())
    return sorted(values)


def torchvision_op(image: torch.Tensor, op: str, magnitude: float, interpolation: str) -> torch.Tensor:
    reference = v2.TrivialAugmentWide()
    mode = v2.InterpolationMode(interpolation)
    return reference._apply_image_or_video_transform(image, op, magnitude, interpolation=mode, fill=reference._fill)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("op", OPS)
def test_each_op_equals_torchvision_image_by_image_at_every_magnitude(op, interpolation):
    images = fabricated_images(6)
    for magnitude in every_magnitude(op, 32, 32):
        ops = torch.full((len(images),), OP_INDEX[op])
        mine = apply_ops(images, ops, torch.full((len(images),), magnitude, dtype=torch.float64), interpolation)
        theirs = torch.stack([torchvision_op(image, op, magnitude, interpolation) for image in images])
        assert torch.equal(mine, theirs), (op, magnitude)


def test_a_batch_of_mixed_ops_equals_each_image_alone_and_leaves_the_input_alone():
    images = fabricated_images(40, 24, 40)  # not square: rotations of 90 degrees resample
    before = images.clone()
    g = torch.Generator().manual_seed(1)
    ops = torch.randint(0, len(OPS), (len(images),), generator=g)
    choices = [every_magnitude(OPS[k], 24, 40) for k in ops.tolist()]
    magnitudes = torch.tensor([c[torch.randint(len(c), (), generator=g)] for c in choices], dtype=torch.float64)
    mine = apply_ops(images, ops, magnitudes)
    for i, image in enumerate(images):
        assert torch.equal(mine[i], torchvision_op(image, OPS[ops[i]], float(magnitudes[i]), "nearest")), i
    assert torch.equal(images, before)
    assert not torch.equal(mine, images)


@pytest.mark.parametrize("name", list(SPACES))
@pytest.mark.parametrize("size", [(32, 32), (24, 40)])
def test_each_policy_draws_from_torchvision_s_ops_and_magnitude_tables(name, size):
    space, reference, bins = SPACES[name]
    theirs = reference._AUGMENTATION_SPACE
    assert list(space) == list(theirs)
    for op in theirs:
        (mine, my_sign), (their_table, their_sign) = space[op], theirs[op]
        assert my_sign == their_sign, op
        for count in (bins, 10, 31):
            a, b = mine(count, *size), their_table(count, *size)
            assert (a is None and b is None) or torch.equal(a, b), (op, count)


def test_the_autoaugment_policy_is_torchvision_s_cifar10_policy_and_augmix_s_bins_its_own():
    assert list(policies.CIFAR10_POLICY) == v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)._policies
    assert policies.AUGMIX_BINS == v2.AugMix()._PARAMETER_MAX


def torchvision_draws(transform, n: int) -> list[tuple]:
    """Each call's ops as torchvision draws them: (op, magnitude) per op applied, in order."""
    calls = []
    transform._apply_image_or_video_transform = lambda image, op, magnitude, **kwargs: (
        calls.append((op, round(magnitude, 6))) or image
    )
    draws = []
    image = torch.zeros(3, 32, 32, dtype=torch.uint8)
    for _ in range(n):
        calls.clear()
        transform(image)
        draws.append(tuple(calls))
    return draws


def my_draws(slots) -> list[tuple]:
    ops, magnitudes = torch.stack([s[0] for s in slots], 1), torch.stack([s[1] for s in slots], 1)
    return [tuple((OPS[o], round(m, 6)) for o, m in zip(*row)) for row in zip(ops.tolist(), magnitudes.tolist())]


def assert_same_distribution(mine: list, theirs: list) -> None:
    """A chi-square test of homogeneity over the categories both samples fall in (those drawn fewer
    than 5 times in all pooled into one): the two samples come from one distribution."""
    a, b = collections.Counter(mine), collections.Counter(theirs)
    keys = sorted(set(a) | set(b), key=repr)
    common = [k for k in keys if a[k] + b[k] >= 10]
    rare = [k for k in keys if a[k] + b[k] < 10]
    table = [[a[k] for k in common] + [sum(a[k] for k in rare)], [b[k] for k in common] + [sum(b[k] for k in rare)]]
    if not rare:
        table = [row[:-1] for row in table]
    assert len(common) >= 3
    p = chi2_contingency(table).pvalue
    assert p > 0.001, (p, a.most_common(5), b.most_common(5))


N = 6000


def test_autoaugment_s_draws_match_torchvision_s():
    g = torch.Generator().manual_seed(0)
    slots = policies.autoaugment_slots(N, 32, 32, g)
    mine = [tuple(op for op in draw if op[0] != "Identity") for draw in my_draws(slots)]
    torch.manual_seed(0)
    theirs = torchvision_draws(v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10), N)
    assert_same_distribution(mine, theirs)  # the pair of ops applied, with their magnitudes and signs
    assert_same_distribution([op for d in mine for op in d], [op for d in theirs for op in d])


@pytest.mark.parametrize("ops, magnitude", [(2, 9), (1, 30), (3, 0)])
def test_randaugment_s_draws_match_torchvision_s(ops, magnitude):
    g = torch.Generator().manual_seed(0)
    mine = my_draws(policies.randaugment_slots(N, 32, 32, g, ops, magnitude))
    torch.manual_seed(0)
    theirs = torchvision_draws(v2.RandAugment(num_ops=ops, magnitude=magnitude), N)
    assert {len(d) for d in mine} == {len(d) for d in theirs} == {ops}
    assert_same_distribution([op for d in mine for op in d], [op for d in theirs for op in d])


def test_trivialaugment_s_draws_match_torchvision_s():
    g = torch.Generator().manual_seed(0)
    mine = my_draws(policies.trivialaugment_slots(N, 32, 32, g))
    torch.manual_seed(0)
    theirs = torchvision_draws(v2.TrivialAugmentWide(), N)
    assert_same_distribution([d[0][0] for d in mine], [d[0][0] for d in theirs])  # 14 ops, uniform
    assert_same_distribution(mine, theirs)  # op, bin and sign: 14 x 31 x 2 categories


@pytest.mark.parametrize("severity, depth", [(3, -1), (10, 2)])
def test_augmix_s_chains_match_torchvision_s(severity, depth):
    width = 3
    g = torch.Generator().manual_seed(0)
    draw = policies.augmix_draw(N // width, 32, 32, g, severity, width, depth)
    mine = [chain for slots in draw.chains for chain in my_draws(slots)]
    mine = [tuple(op for op in chain if op[0] != "Identity") for chain in mine]
    torch.manual_seed(0)
    theirs = torchvision_draws(v2.AugMix(severity=severity, mixture_width=1, chain_depth=depth), N)
    if depth == -1:
        assert_same_distribution([len(c) for c in mine], [len(c) for c in theirs])  # 1 to 3, uniform
    else:
        assert {len(c) for c in mine} == {len(c) for c in theirs} == {depth}
    assert_same_distribution([op for c in mine for op in c], [op for c in theirs for op in c])


def test_augmix_mixes_as_torchvision_does_given_the_same_draws(monkeypatch):
    """torchvision's AugMix made to take our ops and weights (its _sample_dirichlet is there to be
    replaced in tests): image by image, the same mixture."""
    images = fabricated_images(3)
    g = torch.Generator().manual_seed(2)
    draw = policies.augmix_draw(len(images), 32, 32, g, severity=3, width=3, depth=3)
    mine = policies.augmix(images, draw)
    for i, image in enumerate(images):
        reference = v2.AugMix(severity=3, mixture_width=3, chain_depth=3)
        dirichlet = iter([draw.mix[i : i + 1], draw.weights[i : i + 1]])
        reference._sample_dirichlet = lambda params, dirichlet=dirichlet: next(dirichlet)
        ops = iter([(OPS[s[0][i]], float(s[1][i])) for chain in draw.chains for s in chain])
        original = reference._apply_image_or_video_transform

        def ours(image, op, magnitude, original=original, ops=ops, **kwargs):
            op, magnitude = next(ops)
            return original(image, op, magnitude, **kwargs)

        reference._apply_image_or_video_transform = ours
        assert torch.equal(mine[i], reference(image)), i


@pytest.mark.parametrize("name", ["autoaugment", "randaugment", "trivialaugment", "augmix"])
def test_a_policy_draws_from_the_run_s_generator_and_changes_images(name):
    from cifar_tui.engine.config import RunConfig

    images = fabricated_images(30)
    config = RunConfig(augment_policy=name)
    first = policies.make_policy(config, torch.Generator().manual_seed(5))(images)
    again = policies.make_policy(config, torch.Generator().manual_seed(5))(images)
    other = policies.make_policy(config, torch.Generator().manual_seed(6))(images)
    assert first.dtype == torch.uint8 and first.shape == images.shape
    assert torch.equal(first, again) and not torch.equal(first, other)
    changed = (first != images).flatten(1).any(1).float().mean()
    assert changed > 0.3  # most images drew an op that changes them
    assert policies.make_policy(RunConfig(), torch.Generator()) is None
