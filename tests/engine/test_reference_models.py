"""The CIFAR reference architectures: their parameter counts are the published ones, their layers
the reference implementations' (the ordered shapes of every weight and buffer, digested from
akamaster/pytorch_resnet_cifar10, kuangliu/pytorch-cifar, xternalz/WideResNet-pytorch and
andreasveit/densenet-pytorch built with 10 classes), and each trains."""

from __future__ import annotations

import hashlib

import pytest
import torch
from torch import nn

from cifar_tui.engine.models import build_model, parameter_count

# name: (parameters with 10 classes, the digest of the reference's ordered state_dict shapes, published)
REFERENCES = {
    "resnet20": (269_722, "4b24e2322ab522af", "0.27M"),
    "resnet32": (464_154, "b883013c8bcd49b3", "0.46M"),
    "resnet44": (658_586, "e653040f314ae804", "0.66M"),
    "resnet56": (853_018, "f79a2d86b10c0228", "0.85M"),
    "resnet110": (1_727_962, "aac2e8ee71489986", "1.7M"),
    "preact-resnet18": (11_171_146, "31c601dabc906df0", "11.2M"),
    "wrn-16-8": (10_961_370, "81f4d85ddebd7904", "11.0M"),
    "wrn-28-10": (36_479_194, "57f1dbc606ae9404", "36.5M"),
    "wrn-40-4": (8_949_210, "1e28cf0cecfda0c6", "8.9M"),
    "densenet-bc-100": (769_162, "add791cda62f9a3c", "0.8M"),
}

# airbench's nets: (parameters, the digest of make_net()'s ordered state_dict shapes in
# legacy/airbench95.py and legacy/airbench96.py, built on the CPU)
AIRBENCH = {"airbench95": (4_606_520, "adf0fcf85998ccea"), "airbench96": (9_918_776, "a7379b623ccc33b8")}


def shapes_digest(model: nn.Module) -> str:
    text = ";".join("x".join(map(str, t.shape)) for t in model.state_dict().values())
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", list(REFERENCES))
def test_each_reference_model_has_the_published_parameters_and_the_reference_s_layers(name):
    count, digest, paper = REFERENCES[name]
    assert parameter_count(name) == count
    places = len(paper.rstrip("M").split(".")[1])  # the figure as the paper rounds it
    assert round(count / 1e6, places) == pytest.approx(float(paper.rstrip("M")))
    with torch.device("meta"):
        model = build_model(name, 10, 0.0)
    assert shapes_digest(model) == digest


def weighted_layers(model: nn.Module, kernel: int | None = None) -> int:
    return sum(
        isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and (kernel is None or m.kernel_size[0] == kernel))
        for m in model.modules()
    )


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_a_cifar_resnet_s_depth_counts_its_layers_and_its_shortcuts_have_no_weights(depth):
    with torch.device("meta"):
        model = build_model(f"resnet{depth}", 10, 0.0)
    assert weighted_layers(model) == depth  # 6n + 1 convolutions and the linear layer
    assert weighted_layers(model, kernel=1) == 1  # no 1x1 convolutions: the one counted is the linear layer
    assert {m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)} == {16, 32, 64}


def test_the_wide_resnets_and_the_densenet_count_their_layers_as_their_names_do():
    with torch.device("meta"):
        wrn = build_model("wrn-28-10", 10, 0.3)
        densenet = build_model("densenet-bc-100", 10, 0.0)
    convs = [m.kernel_size[0] for m in wrn.modules() if isinstance(m, nn.Conv2d)]
    assert (convs.count(3), convs.count(1)) == (25, 3)  # 6n 3x3 and the stem; a projection a stage (d = 6n + 4)
    assert {m.out_channels for m in wrn.modules() if isinstance(m, nn.Conv2d)} == {16, 160, 320, 640}
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.3 for m in wrn.modules()) == 12  # one a block
    transitions = [m.conv for m in densenet.features if hasattr(m, "conv")]
    assert [(t.in_channels, t.out_channels) for t in transitions] == [(216, 108), (300, 150)]
    assert densenet.linear.in_features == 342
    assert weighted_layers(densenet) - len(transitions) == 98  # L = 100 counts the transitions too


@pytest.mark.parametrize("name", list(REFERENCES))
def test_each_reference_model_trains_a_step_on_32x32_images(name):
    torch.manual_seed(0)
    model = build_model(name, 10, 0.0)
    images, labels = torch.randn(2, 3, 32, 32), torch.tensor([1, 7])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and model(images).shape == (2, 10)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_each_reference_model_halves_the_image_where_its_paper_does(name):
    """Three stages at 32, 16 and 8 pixels (PreActResNet-18: four, down to 4), pooled from there."""
    model = build_model(name, 10, 0.0)
    sizes = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(lambda m, args, out: sizes.append(out.shape[-1]))
    with torch.no_grad():
        model.eval()(torch.randn(1, 3, 32, 32))
    assert sorted(set(sizes), reverse=True) == ([32, 16, 8, 4] if name == "preact-resnet18" else [32, 16, 8])
    assert sizes[-1] == min(sizes)


@pytest.mark.parametrize("name, words", [("resnet", "6n + 2"), ("wide", "6n + 4"), ("dense", "6n + 4")])
def test_an_impossible_depth_says_what_the_depth_must_be(name, words):
    from cifar_tui.engine.cifar_resnets import CifarResNet
    from cifar_tui.engine.densenet_bc import DenseNetBC
    from cifar_tui.engine.wide_resnet import WideResNet

    build = {"resnet": lambda: CifarResNet(21), "wide": lambda: WideResNet(27, 10), "dense": lambda: DenseNetBC(99)}
    with pytest.raises(ValueError, match=words.replace("+", r"\+")):
        build[name]()


@pytest.mark.parametrize("name", list(AIRBENCH))
def test_airbench95_and_96_have_their_scripts_parameters_and_layers(name):
    count, digest = AIRBENCH[name]
    assert parameter_count(name) == count
    with torch.device("meta"):
        model = build_model(name, 10, 0.0)
    assert shapes_digest(model) == digest


def test_airbench96_has_ten_convolutions_and_a_residual_over_each_block_s_last_two():
    model = build_model("airbench96", 10, 0.0)
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 10  # the script: "10 conv layers"
    block = model[2]
    x = torch.randn(2, 24, 32, 32)
    with torch.no_grad():
        for layer in block.body:  # the residual branch silenced: the block is its head, through a GELU
            if isinstance(layer, nn.Conv2d):
                layer.weight.zero_()
        block.body[-1].bias.normal_()
        block.eval()
        head = block.head(x)
        assert torch.allclose(block(x), nn.functional.gelu(head + block.body[-1].bias[:, None, None]), atol=1e-6)
