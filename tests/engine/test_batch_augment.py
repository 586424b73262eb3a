"""Cutout, random erasing, mixup and CutMix on whole batches, against torchvision's own
transforms given the same drawn parameters, and their draws against torchvision's over many."""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2 as v2
import torchvision.transforms.v2.functional as TF
from scipy import stats

from cifar_tui.engine.erasing import cutout, cutout_boxes, erase, erasing_boxes, random_erasing
from cifar_tui.engine.mixing import Mix, Mixer, cutmix_box, mix
from cifar_tui.engine.train_step import loss_of


def batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def per_image_erase(images, boxes, value):
    out = []
    for k, image in enumerate(images):
        i, j, h, w = (int(b[k]) for b in boxes)
        v = value[k] if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=images.dtype)
        out.append(TF.erase(image, i, j, h, w, v[..., i : i + h, j : j + w] if v.ndim else v) if h and w else image)
    return torch.stack(out)


def test_erase_is_torchvisions_erase_image_by_image():
    images, _ = batch()
    g = torch.Generator().manual_seed(1)
    boxes = erasing_boxes(64, 32, 32, 0.7, (0.02, 0.33), (0.3, 3.3), g)
    assert (boxes[2] == 0).any() and (boxes[2] > 0).any()  # some images left alone, some erased
    assert torch.equal(erase(images, *boxes, 0.0), per_image_erase(images, boxes, 0.0))
    assert torch.equal(erase(images, *boxes, -0.5), per_image_erase(images, boxes, -0.5))
    noise = torch.randn(images.shape, generator=g)
    assert torch.equal(erase(images, *boxes, noise), per_image_erase(images, boxes, noise))
    uint8 = (images * 40 + 128).clamp(0, 255).to(torch.uint8)  # uint8 too, pixel for pixel
    assert torch.equal(erase(uint8, *boxes, 0), per_image_erase(uint8, boxes, 0))


def devries_cutout(image: np.ndarray, length: int, y: int, x: int) -> np.ndarray:
    """DeVries & Taylor's Cutout.__call__ (uoguelph-mlrg/Cutout), its centre given."""
    h, w = image.shape[1:]
    mask = np.ones((h, w), np.float32)
    y1, y2 = np.clip(y - length // 2, 0, h), np.clip(y + length // 2, 0, h)
    x1, x2 = np.clip(x - length // 2, 0, w), np.clip(x + length // 2, 0, w)
    mask[y1:y2, x1:x2] = 0.0
    return image * mask[None]


@pytest.mark.parametrize("length", [16, 8, 5])
def test_cutout_is_the_papers_cutout(length):
    images, _ = batch()
    out = cutout(images, torch.Generator().manual_seed(3), length)
    again = torch.Generator().manual_seed(3)  # the same centres, drawn as cutout draws them
    ys = torch.randint(0, 32, (64,), generator=again)
    xs = torch.randint(0, 32, (64,), generator=again)
    expected = np.stack([devries_cutout(im.numpy(), length, int(y), int(x)) for im, y, x in zip(images, ys, xs)])
    assert np.array_equal(out.numpy(), expected)
    top, left, height, width = cutout_boxes(4096, 32, 32, length, torch.Generator().manual_seed(4))
    assert int(height.max()) == int(width.max()) == 2 * (length // 2) and int(height.min()) == length // 2


def test_cutout_inside_is_airbench96s_square_masks():
    images, _ = batch()
    out = cutout(images, torch.Generator().manual_seed(5), 12, inside=True)
    again = torch.Generator().manual_seed(5)  # the same corners, as cutout draws them
    corner_y, corner_x = (torch.randint(0, 32 - 12 + 1, (64,), generator=again) for _ in range(2))
    # legacy/airbench96.py's make_random_square_masks from those corners
    dy = torch.arange(32).view(1, 1, 32, 1) - corner_y.view(-1, 1, 1, 1)
    dx = torch.arange(32).view(1, 1, 1, 32) - corner_x.view(-1, 1, 1, 1)
    masks = (dy >= 0) * (dy < 12) * ((dx >= 0) * (dx < 12))
    assert torch.equal(out, images.masked_fill(masks, 0))
    top, left, height, width = cutout_boxes(4096, 32, 32, 12, torch.Generator().manual_seed(6), inside=True)
    assert set(height.tolist()) == set(width.tolist()) == {12}  # never clipped
    assert set(top.tolist()) == set(left.tolist()) == set(range(21))  # every place where it fits


def torchvision_erasing_draws(count, p, scale, ratio):
    torch.manual_seed(0)
    eraser = v2.RandomErasing(p=1.0, scale=scale, ratio=ratio)  # p applied below, as forward does
    image = torch.zeros(3, 32, 32)
    heights, widths, tops = [], [], []
    coins = torch.rand(count)
    for k in range(count):
        params = eraser.make_params([image])
        erased = coins[k] < p and params["v"] is not None
        heights.append(params["h"] if erased else 0)
        widths.append(params["w"] if erased else 0)
        tops.append(params["i"] if erased else -1)
    return np.array(heights), np.array(widths), np.array(tops)


def same_distribution(ours: np.ndarray, theirs: np.ndarray) -> float:
    """The p-value of a chi-square test that two samples of small integers share a distribution
    (bins with few counts pooled)."""
    values = np.union1d(ours, theirs)
    table = np.array([[np.sum(ours == v) for v in values], [np.sum(theirs == v) for v in values]])
    keep = table.sum(0) >= 10
    table = np.column_stack([table[:, keep], table[:, ~keep].sum(1)]) if (~keep).any() else table
    return stats.chi2_contingency(table).pvalue


@pytest.mark.parametrize("p, scale, ratio", [(0.5, (0.02, 0.33), (0.3, 3.3)), (1.0, (0.3, 0.9), (0.5, 2.0))])
def test_erasing_draws_boxes_as_torchvisions_random_erasing_does(p, scale, ratio):
    count = 6000
    top, _, height, width = (
        b.numpy() for b in erasing_boxes(count, 32, 32, p, scale, ratio, torch.Generator().manual_seed(5))
    )
    their_h, their_w, their_top = torchvision_erasing_draws(count, p, scale, ratio)
    assert same_distribution(height, their_h) > 1e-3
    assert same_distribution(width, their_w) > 1e-3
    assert same_distribution(np.where(height > 0, top, -1) // 4, np.where(their_top >= 0, their_top // 4, -1)) > 1e-3
    assert ((top + height <= 32) & (top >= 0)).all()


def test_random_erasing_erases_the_drawn_boxes():
    images, _ = batch()
    out = random_erasing(images, torch.Generator().manual_seed(6), 0.5, (0.02, 0.33), (0.3, 3.3), None)
    boxes = erasing_boxes(64, 32, 32, 0.5, (0.02, 0.33), (0.3, 3.3), again := torch.Generator().manual_seed(6))
    noise = torch.randn(images.shape, generator=again)
    assert torch.equal(out, per_image_erase(images, boxes, noise))


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.71, 1.0])
def test_mixup_is_torchvisions_mixup_for_the_same_lambda(lam):
    images, labels = batch()
    mixed, targets = mix(images, labels, Mix(lam), 10)
    theirs = v2.MixUp(alpha=1.0, num_classes=10)
    params = {"labels": labels, "batch_size": 64, "lam": lam}
    assert torch.allclose(mixed, theirs.transform(images, params), atol=1e-6, rtol=0)
    assert torch.equal(targets, theirs.transform(labels, params))


def test_cutmix_is_torchvisions_cutmix_for_the_same_lambda_and_centre(monkeypatch):
    images, labels = batch()
    for lam, (cx, cy) in [(0.6, (3, 20)), (0.05, (31, 0)), (0.999, (16, 16)), (0.3, (0, 31))]:
        rng = FixedIntegers([cx, cy])
        box, adjusted = cutmix_box(lam, 32, 32, rng)
        centres = iter([torch.tensor([cx]), torch.tensor([cy])])
        monkeypatch.setattr(torch, "randint", lambda *a, centres=centres, **k: next(centres))
        theirs = v2.CutMix(alpha=1.0, num_classes=10)
        theirs._dist = FixedBeta(lam)
        params = theirs.make_params([images])
        monkeypatch.undo()
        assert params["box"] == box and params["lam_adjusted"] == pytest.approx(adjusted, abs=1e-15)
        mixed, targets = mix(images, labels, Mix(adjusted, box), 10)
        params |= {"labels": labels, "batch_size": 64}
        assert torch.equal(mixed, theirs.transform(images, params))
        assert torch.allclose(targets, theirs.transform(labels, params), atol=1e-7)


class FixedIntegers:
    def __init__(self, values):
        self.values = iter(values)

    def integers(self, high):
        return next(self.values)


class FixedBeta:
    def __init__(self, lam):
        self.lam = lam

    def sample(self, shape):
        return torch.tensor(self.lam)


def test_the_mixer_draws_as_timm_mixes():
    """timm's Mixup: mix_prob of batches mixed; with both on, switch_prob of them CutMix; lambda
    from Beta(alpha, alpha) (mean 0.5, variance 1 / (4 (2 alpha + 1)))."""
    mixer = Mixer(0.8, 1.0, 0.7, 0.3, 10, np.random.default_rng(0))
    draws = [mixer.draw(32, 32) for _ in range(4000)]
    mixed = [d for d in draws if d is not None]
    cut = [d for d in mixed if d.box is not None]
    assert stats.binomtest(len(mixed), len(draws), 0.7).pvalue > 1e-3
    assert stats.binomtest(len(cut), len(mixed), 0.3).pvalue > 1e-3
    lams = np.array([d.lam for d in mixed if d.box is None])
    assert stats.kstest(lams, stats.beta(0.8, 0.8).cdf).pvalue > 1e-3
    only_mixup = Mixer(1.0, 0.0, 1.0, 0.5, 10, np.random.default_rng(1))
    assert all(only_mixup.draw(32, 32).box is None for _ in range(100))


def test_the_mixer_resumes_its_draws():
    mixer = Mixer(1.0, 1.0, 1.0, 0.5, 10, np.random.default_rng(0))
    [mixer.draw(32, 32) for _ in range(5)]
    saved = mixer.state()
    after = [mixer.draw(32, 32) for _ in range(5)]
    mixer.restore(saved)
    assert [mixer.draw(32, 32) for _ in range(5)] == after


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_the_loss_against_mixed_targets_is_timms(smoothing):
    """timm's SoftTargetCrossEntropy of mixup_target(smoothing): each class smoothing / classes,
    the true classes' shares (1 - smoothing) lam and (1 - smoothing)(1 - lam) on top."""
    images, labels = batch()
    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(7))
    lam = 0.35
    _, targets = mix(images, labels, Mix(lam), 10)
    off, on = smoothing / 10, 1 - smoothing + smoothing / 10
    y1 = F.one_hot(labels, 10) * on + (1 - F.one_hot(labels, 10)) * off
    y2 = y1.roll(1, 0)
    timm_target = y1 * lam + y2 * (1 - lam)
    timm_loss = torch.sum(-timm_target * F.log_softmax(logits, dim=-1), dim=-1).mean()
    assert loss_of(logits, targets, smoothing).item() == pytest.approx(timm_loss.item(), rel=1e-6)
    assert math.isclose(
        loss_of(logits, F.one_hot(labels, 10).float(), smoothing).item(),
        loss_of(logits, labels, smoothing).item(),
        rel_tol=1e-6,
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(cutout=33), "cutout: must be between 0 and 32 pixels"),
        (dict(erasing=1.5), "erasing: must be between 0 and 1"),
        (dict(erasing_scale="0.3"), "erasing_scale: must be two shares of the image joined by +, like 0.02+0.33"),
        (dict(erasing_scale="0.5+0.1"), "erasing_scale: must be shares of the image rising"),
        (dict(erasing_ratio="0+3"), "erasing_ratio: must be positive aspect ratios"),
        (dict(erasing_value="grey"), "erasing_value: must be a number"),
        (dict(mixup=-1), "mixup: must be an alpha between 0 and 100"),
        (dict(mix_prob=0), "mix_prob: must be > 0 and <= 1"),
        (dict(mix_switch_prob=2), "mix_switch_prob: must be between 0 and 1"),
        (dict(cutmix=1.0, model="googlenet"), "cutmix: googlenet trains auxiliary classifiers"),
    ],
)
def test_impossible_augmentations_are_one_line(fields, message):
    from cifar_tui.engine.config import ConfigError, make_config

    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        make_config("seed-cnn", **fields)
    assert "\n" not in str(error.value)


def test_a_run_without_them_draws_as_before():
    """Off, they draw nothing: an old run's data order and losses are what they were."""
    from cifar_tui.engine.augment import batch_augment
    from cifar_tui.engine.config import make_config
    from cifar_tui.engine.mixing import make_mixer

    config = make_config("seed-cnn")
    assert make_mixer(config, 10) is None and batch_augment(config, torch.Generator(), None) is None
