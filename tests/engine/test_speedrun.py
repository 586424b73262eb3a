"""The speedrun preset: airbench94's recipe in the engine, checked piece by piece on the CPU."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cifar_tui.engine.airbench_model import AirbenchNet
from cifar_tui.engine.config import PRESETS, make_config
from cifar_tui.engine.data import normalize, random_translate, synthetic
from cifar_tui.engine.events import RunFinished
from cifar_tui.engine.lookahead import Lookahead
from cifar_tui.engine.schedule import lr_at
from cifar_tui.engine.train import augmented_logits, make_optimizer, train


def test_the_net_takes_cifar_images_and_gives_ten_scaled_logits():
    net = AirbenchNet(10).eval()
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    # whitening 312 + blocks 50,944, 738,304 and 1,180,672 + linear 2,560 (BatchNorm weights counted, frozen)
    assert sum(p.numel() for p in net.parameters()) == 1_972_792
    assert not net[0].weight.requires_grad and net[0].bias.requires_grad
    assert all(not m.weight.requires_grad for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def test_the_whitening_layer_whitens_image_patches():
    images = normalize(synthetic(n_train=2000, n_test=10).train.images)
    net = AirbenchNet(10)
    net.data_init(images)
    with torch.no_grad():
        out = F.conv2d(images, net[0].weight[:12])  # the 12 directions, before their negatives and bias
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12)
    covariance = flat.T @ flat / len(flat)
    off_diagonal = covariance - torch.diag(covariance.diagonal())
    assert off_diagonal.abs().max() < 1e-4  # decorrelated
    # unit variance, short of it only by the eps that keeps the faintest directions from blowing up
    assert ((covariance.diagonal() > 0.95) & (covariance.diagonal() <= 1.0)).all()
    assert torch.equal(net[0].weight[12:], -net[0].weight[:12])


def test_test_time_augmentation_averages_the_flipped_and_shifted_views():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10)).eval()  # not flip-invariant
    x = torch.randn(4, 3, 32, 32)
    config = make_config(channels_last=False)
    with torch.no_grad():
        plain = augmented_logits(model, x, config)
        flip = augmented_logits(model, x, config.replace(tta="flip"))
        both = augmented_logits(model, x, config.replace(tta="flip-translate"))
        mirrored = lambda images: 0.5 * model(images) + 0.5 * model(images.flip(3))  # noqa: E731
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
        shifted = 0.5 * mirrored(padded[:, :, :32, :32]) + 0.5 * mirrored(padded[:, :, 2:, 2:])
    assert torch.allclose(plain, model(x))
    assert torch.allclose(flip, mirrored(x)) and not torch.allclose(flip, plain)
    assert torch.allclose(both, 0.5 * mirrored(x) + 0.5 * shifted, atol=1e-6)


def test_only_the_last_epoch_is_evaluated_with_test_time_augmentation(monkeypatch):
    import cifar_tui.engine.train as train_module

    seen = []
    real = train_module.augmented_logits

    def recording(model, inputs, config):
        seen.append(config.tta)
        return real(model, inputs, config)

    monkeypatch.setattr(train_module, "augmented_logits", recording)
    data = synthetic(n_train=256, n_test=1000)  # one evaluation batch an epoch
    config = make_config(dataset="synthetic", device="cpu", epochs=3, batch_size=64, tta="flip-translate")
    events = []
    train(1, config, events.append, data=data)
    assert isinstance(events[-1], RunFinished)
    assert seen == ["off", "off", "flip-translate"]
    assert events[-1].test_acc == [e for e in events if hasattr(e, "test_acc")][-2].test_acc  # the last epoch's


def test_translate_shifts_with_mirrored_edges_like_reflect_padding():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).reshape(2, 3, 8, 8)
    generator = torch.Generator().manual_seed(3)
    shifted = random_translate(images, generator, 2)
    padded = F.pad(images.float(), (2, 2, 2, 2), mode="reflect")
    generator = torch.Generator().manual_seed(3)
    shifts = torch.randint(-2, 3, (2, 2), generator=generator)
    for i, (dy, dx) in enumerate(shifts.tolist()):
        expected = padded[i, :, 2 + dy : 10 + dy, 2 + dx : 10 + dx]
        assert torch.equal(shifted[i].float(), expected)


def test_the_speedrun_schedule_rises_from_a_fifth_then_falls_to_seven_hundredths():
    rates = [lr_at(step, 100, 2.0, "speedrun") for step in range(101)]
    assert rates[0] == pytest.approx(0.4) and max(rates) == pytest.approx(2.0) and rates.index(2.0) == 23
    assert rates[100] == pytest.approx(0.14)


def test_batchnorm_biases_learn_64_times_faster_and_decay_as_much():
    config = make_config("speedrun", dataset="synthetic")
    optimizer = make_optimizer(config, AirbenchNet(10), torch.device("cpu"))
    rest, biases, whitening = optimizer.param_groups
    assert biases["lr"] == pytest.approx(64 * rest["lr"]) and biases["lr_scale"] == 64
    assert biases["lr"] * biases["weight_decay"] == pytest.approx(rest["lr"] * rest["weight_decay"])
    assert len(biases["params"]) == 6  # one per BatchNorm
    # airbench94: the whitening bias at the base rate, for its first 3 epochs only
    assert whitening["lr_scale"] == 1.0 and whitening["steps"] == 3 and len(whitening["params"]) == 1


def test_lookahead_pulls_every_five_steps_and_ends_on_the_average():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    look = Lookahead(model, total_steps=10)  # the average starts at 0
    with torch.no_grad():
        model.weight.fill_(1.0)  # training moved the weight
    look.after_step(4)
    assert model.weight.item() == 1.0  # not a fifth step: left alone
    look.after_step(5)
    decay = 0.95**5 * 0.5**3
    assert model.weight.item() == pytest.approx(decay * 0.0 + (1 - decay) * 1.0, rel=1e-6)
    pulled = model.weight.item()
    with torch.no_grad():
        model.weight.fill_(5.0)
    look.after_step(10)  # the last step: the weights become the average, unmoved
    assert model.weight.item() == pytest.approx(pulled)


def test_the_speedrun_preset_is_airbench94s_recipe():
    preset = PRESETS["speedrun"]
    assert (preset["model"], preset["batch_size"], preset["epochs"], preset["label_smoothing"]) == (
        "airbench",
        1024,
        10,
        0.2,
    )
    assert preset["lr"] == pytest.approx(11.5 / (1 + 1 / (1 - 0.85)))  # airbench's decoupled 11.5, in PyTorch's terms
    assert (preset["translate"], preset["tta"], preset["lookahead"], preset["bias_lr_scale"]) == (
        2,
        "flip-translate",
        True,
        64.0,
    )


@pytest.mark.slow
def test_the_speedrun_preset_learns_the_synthetic_data(tmp_path):
    events = []
    config = make_config(
        "speedrun", dataset="synthetic", device="cpu", epochs=1, batch_size=256, limit_batches=12, precision="fp32"
    )
    train(1, config, events.append, data_dir=tmp_path)
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.test_acc > 50
