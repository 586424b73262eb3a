"""The airbench recipes' pieces beyond the net: 9.9 epochs, alternating flips, the whitening bias
trained for its first epochs only, dropped partial batches, the linear schedule."""

import math

import pytest
import torch

from cifar_tui.engine.config import ConfigError, make_config
from cifar_tui.engine.data import alternating_flips, synthetic, train_batches
from cifar_tui.engine.events import EpochEnd, Losses, RunStarted
from cifar_tui.engine.schedule import lr_at
from cifar_tui.engine.train import total_steps, train

DATA = synthetic(n_train=640, n_test=200)


def tiny(preset="speedrun", **overrides):
    options = dict(dataset="synthetic", device="cpu", epochs=3, batch_size=64, precision="fp32", compile="off")
    return make_config(preset, **{**options, **overrides})


def run(config):
    events = []
    train(1, config, events.append, data=DATA)
    return events


@pytest.mark.slow
def test_a_share_of_the_last_epoch_trains_that_share_of_its_steps():
    config = tiny(last_epoch_share=0.45, drop_last=True)  # 640 images: 10 steps an epoch, 5 in the last
    events = run(config)
    started = events[0]
    assert isinstance(started, RunStarted)
    assert (started.steps_per_epoch, started.total_steps) == (10, 25) == (10, total_steps(config, 10))
    steps = {e.epoch: e.first_step + len(e.losses) for e in events if isinstance(e, Losses)}
    assert steps == {1: 10, 2: 20, 3: 25}
    assert [e.step for e in events if isinstance(e, EpochEnd)] == [10, 20, 25]


def test_airbench_9_9_epochs_are_its_step_count():
    config = make_config("speedrun", dataset="synthetic")
    per_epoch = 50_000 // 1024  # airbench drops the last partial batch
    assert total_steps(config, per_epoch) == math.ceil(9.9 * per_epoch) == 476


@pytest.mark.slow
def test_drop_last_leaves_out_the_partial_batch():
    kept = run(tiny(epochs=1, batch_size=100, drop_last=False, limit_eval_batches=1))[0]
    dropped = run(tiny(epochs=1, batch_size=100, drop_last=True, limit_eval_batches=1))[0]
    assert (kept.steps_per_epoch, dropped.steps_per_epoch) == (7, 6)


def test_alternating_flips_show_each_image_both_ways_every_two_epochs():
    first, second, third = (alternating_flips(1000, seed=3, epoch=e, device="cpu") for e in (1, 2, 3))
    assert torch.equal(first, ~second) and torch.equal(first, third)
    assert 400 < int(first.sum()) < 600  # a random half starts flipped
    assert torch.equal(first, alternating_flips(1000, seed=3, epoch=1, device="cpu"))  # fixed by the seed
    assert not torch.equal(first, alternating_flips(1000, seed=4, epoch=1, device="cpu"))


def test_batches_flip_exactly_the_images_they_are_told_to():
    images = torch.arange(4 * 3 * 2 * 2, dtype=torch.uint8).view(4, 3, 2, 2)
    split = type(DATA.train)(images, torch.arange(4))
    flips = torch.tensor([True, False, True, False])
    generator = torch.Generator().manual_seed(0)
    for batch, labels in train_batches(split, 4, generator, hflip=True, crop=False, flips=flips):
        for image, label in zip(batch, labels):
            plain = images[label].float() * 2 / 255 - 1
            expected = plain.flip(2) if flips[label] else plain
            assert torch.allclose(image, expected)


@pytest.mark.slow
def test_the_whitening_bias_trains_its_epochs_then_stays():
    biases = []
    config = tiny(epochs=3, whiten_bias_epochs=1, lookahead=False, limit_eval_batches=1)
    import cifar_tui.engine.train as engine_train

    original = engine_train.train_epoch

    def watched(state, *args, **kwargs):
        result = original(state, *args, **kwargs)
        biases.append(state.raw_model.whitening_bias.detach().clone())
        return result

    engine_train.train_epoch = watched
    try:
        run(config)
    finally:
        engine_train.train_epoch = original
    assert biases[0].abs().sum() > 0  # it learned in epoch 1 (it starts at 0)
    assert torch.equal(biases[0], biases[1]) and torch.equal(biases[1], biases[2])


def test_the_linear_schedule_falls_from_the_rate_to_zero():
    assert [lr_at(s, 4, 2.0, "linear") for s in range(5)] == [2.0, 1.5, 1.0, 0.5, 0.0]


def test_a_bad_share_is_refused_with_the_field_named():
    for share in (0.0, 1.5):
        with pytest.raises(ConfigError, match="last_epoch_share"):
            tiny(last_epoch_share=share)
    with pytest.raises(ConfigError, match="whiten_bias_epochs"):
        tiny(whiten_bias_epochs=-1)
    with pytest.raises(ConfigError, match="cudagraphs"):
        make_config("seed-cnn", whiten_bias_epochs=2, compile="cudagraphs")
