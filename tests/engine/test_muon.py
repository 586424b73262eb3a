"""Muon on the convolution filters, Nesterov SGD on the rest (the speedrun-muon preset)."""

import pytest
import torch
from torch import nn

from cifar_tui.engine.airbench_model import AirbenchNet
from cifar_tui.engine.config import PRESETS, make_config
from cifar_tui.engine.muon import Muon, orthogonalise
from cifar_tui.engine.train import make_optimizer


def test_orthogonalise_gives_singular_values_near_one():
    torch.manual_seed(0)
    for shape in ((64, 216), (256, 64)):
        singular = torch.linalg.svdvals(orthogonalise(torch.randn(*shape)).float())
        assert singular.min() > 0.4 and singular.max() < 1.5  # airbench's iteration lands in about 0.5-1.5
    assert orthogonalise(torch.randn(3, 5)).shape == (3, 5)


def test_a_muon_step_normalises_the_filter_and_moves_it_by_an_orthogonal_update():
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 16, 3, bias=False)
    optimizer = Muon([{"params": [conv.weight], "muon": True, "lr": 0.1, "momentum": 0.6}], lr=0.1)
    conv.weight.grad = torch.randn_like(conv.weight)
    before = conv.weight.detach().clone()
    optimizer.step()
    normalised = before * (16**0.5 / before.norm())
    update = (normalised - conv.weight.detach()).reshape(16, -1) / 0.1
    # Nesterov on the first step: grad + 0.6 * grad, orthogonalised (the scale drops out)
    assert torch.allclose(update, orthogonalise(1.6 * conv.weight.grad.reshape(16, -1)), atol=1e-5)


def test_its_sgd_groups_step_as_torch_sgd_with_nesterov_and_weight_decay():
    torch.manual_seed(0)
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    ours = Muon(a.parameters(), lr=0.05, momentum=0.85, weight_decay=0.01)
    theirs = torch.optim.SGD(b.parameters(), lr=0.05, momentum=0.85, nesterov=True, weight_decay=0.01)
    for _ in range(3):
        grads = [torch.randn_like(p) for p in a.parameters()]
        for model, optimizer in ((a, ours), (b, theirs)):
            for p, g in zip(model.parameters(), grads):
                p.grad = g.clone()
            optimizer.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_the_muon_preset_puts_filters_under_muon_and_biases_at_64x():
    config = make_config("speedrun-muon", dataset="synthetic", device="cpu")
    model = AirbenchNet(10)
    head, biases, filters, whitening = make_optimizer(config, model, torch.device("cpu"), 25).param_groups
    assert filters["muon"] and not any(g.get("muon") for g in (head, biases, whitening))
    assert len(filters["params"]) == 6 and all(p.ndim == 4 for p in filters["params"])  # the whitening weight is fixed
    assert filters["lr"] == pytest.approx(0.24) and filters["weight_decay"] == 0 and filters["momentum"] == 0.6
    assert head["momentum"] == biases["momentum"] == 0.85  # Nesterov SGD's
    assert [p.shape for p in head["params"]] == [torch.Size([10, 256])] and head["lr_scale"] == 1.0
    assert len(biases["params"]) == 6 and biases["lr_scale"] == 64
    assert whitening["steps"] == 3 * 25 and whitening["lr_scale"] == 64  # at the biases' rate, 3 epochs


def test_the_muon_preset_is_airbench94_muons_recipe_in_this_engines_terms():
    preset = PRESETS["speedrun-muon"]
    assert (preset["batch_size"], preset["epochs"], preset["lr_schedule"], preset["label_smoothing"]) == (
        2000, 8, "linear", 0.2,
    )  # fmt: skip
    # airbench's summed loss and unit-std head (logits / 256) mapped onto a mean loss and logits / 9
    assert preset["lr"] * (256 / 9) ** 2 / 2000 == pytest.approx(0.67)
    assert preset["lr"] * preset["bias_lr_scale"] / 2000 == pytest.approx(0.053, rel=0.01)
    assert preset["lr"] * preset["weight_decay"] == pytest.approx(0.004)
