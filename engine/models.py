"""The model registry: every trainable architecture by name.

Importing this module is cheap (no torch); a model's code is imported when it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    description: str
    build: Callable[[int, float], nn.Module]  # (num_classes, dropout) -> module
    input_size: int = 32
    auxiliary: bool = False  # its training output adds auxiliary classifiers' logits to the main ones


def _seed_cnn(num_classes: int, dropout: float) -> nn.Module:
    from .seed_models import SeedCNN

    return SeedCNN(num_classes, dropout)


def _seed_resnet(num_classes: int, dropout: float) -> nn.Module:
    from .seed_models import SeedResNet

    return SeedResNet(num_classes)


def _airbench(num_classes: int, dropout: float) -> nn.Module:
    from .airbench_model import AirbenchNet

    return AirbenchNet(num_classes)


def _airbench95(num_classes: int, dropout: float) -> nn.Module:
    from .airbench_model import WIDTHS_95, AirbenchNet

    return AirbenchNet(num_classes, WIDTHS_95)


def _airbench96(num_classes: int, dropout: float) -> nn.Module:
    from .airbench_model import WIDTHS_96, AirbenchNet, ResidualBlock

    return AirbenchNet(num_classes, WIDTHS_96, ResidualBlock)


def _torchvision(name: str, **options) -> Callable[[int, float], nn.Module]:
    def build(num_classes: int, dropout: float) -> nn.Module:
        import torchvision.models

        return getattr(torchvision.models, name)(weights=None, num_classes=num_classes, **options)

    return build


def _resnet18_cifar(num_classes: int, dropout: float) -> nn.Module:
    """ResNet-18 with a 3x3 stride-1 stem and no max-pool: the variant CIFAR papers report (~95%)."""
    from torch import nn
    from torchvision.models import resnet18

    model = resnet18(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def _cifar_resnet(depth: int) -> Callable[[int, float], nn.Module]:
    def build(num_classes: int, dropout: float) -> nn.Module:
        from .cifar_resnets import CifarResNet

        return CifarResNet(depth, num_classes)

    return build


def _preact_resnet18(num_classes: int, dropout: float) -> nn.Module:
    from .cifar_resnets import PreActResNet18

    return PreActResNet18(num_classes)


def _wide_resnet(depth: int, width: int) -> Callable[[int, float], nn.Module]:
    def build(num_classes: int, dropout: float) -> nn.Module:
        from .wide_resnet import WideResNet

        return WideResNet(depth, width, num_classes, dropout)

    return build


def _densenet_bc(depth: int, growth: int) -> Callable[[int, float], nn.Module]:
    def build(num_classes: int, dropout: float) -> nn.Module:
        from .densenet_bc import DenseNetBC

        return DenseNetBC(depth, growth, num_classes)

    return build


CIFAR_RESNET_DEPTHS = (20, 32, 44, 56, 110)
WIDE_RESNETS = ((16, 8), (28, 10), (40, 4))

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "seed-cnn", "cnn", "The tutorial's CNN: 4 conv-BN-tanh blocks, 3 linear layers with dropout", _seed_cnn
        ),
        ModelSpec("seed-resnet", "resnet", "The tutorial's small ResNet: BasicBlocks, 16-32-64 channels", _seed_resnet),
        ModelSpec(
            "resnet18",
            "resnet",
            "torchvision ResNet-18 (ImageNet stem), trained from scratch",
            _torchvision("resnet18"),
        ),
        ModelSpec(
            "resnet18-cifar",
            "resnet",
            "ResNet-18 with a 3x3 stem and no max-pool, as CIFAR papers use",
            _resnet18_cifar,
        ),
        *(
            ModelSpec(
                f"resnet{depth}",
                "resnet",
                f"He et al.'s CIFAR ResNet-{depth}: 3 stages of {(depth - 2) // 6} basic blocks, 16-32-64 channels, "
                "option A (zero-padded) shortcuts",
                _cifar_resnet(depth),
            )
            for depth in CIFAR_RESNET_DEPTHS
        ),
        ModelSpec(
            "preact-resnet18",
            "resnet",
            "Pre-activation ResNet-18 (He et al. 2016b) with a 3x3 stem, as kuangliu/pytorch-cifar's",
            _preact_resnet18,
        ),
        *(
            ModelSpec(
                f"wrn-{depth}-{width}",
                "wide-resnet",
                f"Wide-ResNet-{depth}-{width} (Zagoruyko & Komodakis): 3 stages of {(depth - 4) // 6} pre-activation "
                f"blocks, {16 * width}-{32 * width}-{64 * width} channels; --dropout between each block's convolutions",
                _wide_resnet(depth, width),
            )
            for depth, width in WIDE_RESNETS
        ),
        ModelSpec(
            "densenet-bc-100",
            "densenet",
            "DenseNet-BC (L=100, k=12; Huang et al.): 3 dense blocks of 16 bottleneck layers, compression 0.5",
            _densenet_bc(100, 12),
        ),
        ModelSpec(
            "airbench",
            "airbench",
            "airbench94's net: a whitening 2x2 conv, conv-BN-GELU blocks 64-256-256 (the speedrun preset)",
            _airbench,
        ),
        ModelSpec(
            "airbench95",
            "airbench",
            "airbench95's net: airbench94's, its blocks 128-384-384 wide (the speedrun-95 preset)",
            _airbench95,
        ),
        ModelSpec(
            "airbench96",
            "airbench",
            "airbench96's net: blocks 128-384-512 of three convs, a residual over the last two (the speedrun-96 "
            "preset)",
            _airbench96,
        ),
        ModelSpec("alexnet", "alexnet", "AlexNet (2012): 5 conv and 3 linear layers", _torchvision("alexnet"), 63),
        ModelSpec("vgg16", "vgg", "VGG-16: 13 3x3 conv layers and 3 linear layers", _torchvision("vgg16")),
        ModelSpec(
            "squeezenet1_0",
            "squeezenet",
            "SqueezeNet 1.0: fire modules, AlexNet accuracy with few weights",
            _torchvision("squeezenet1_0"),
        ),
        ModelSpec(
            "densenet161", "densenet", "DenseNet-161: every layer sees all earlier ones", _torchvision("densenet161")
        ),
        ModelSpec(
            "inception_v3",
            "inception",
            "Inception v3 with its auxiliary classifier (needs 299x299)",
            _torchvision("inception_v3", aux_logits=True, init_weights=True),
            299,
            auxiliary=True,
        ),
        ModelSpec(
            "googlenet",
            "inception",
            "GoogLeNet (Inception v1) with its two auxiliary classifiers",
            _torchvision("googlenet", aux_logits=True, init_weights=True),
            auxiliary=True,
        ),
        ModelSpec(
            "shufflenet_v2_x1_0",
            "shufflenet",
            "ShuffleNet V2 1.0x: channel shuffles for mobile",
            _torchvision("shufflenet_v2_x1_0"),
        ),
        ModelSpec(
            "mobilenet_v2",
            "mobilenet",
            "MobileNet V2: inverted residuals, linear bottlenecks",
            _torchvision("mobilenet_v2"),
        ),
        ModelSpec(
            "resnext50_32x4d",
            "resnet",
            "ResNeXt-50 32x4d: grouped-convolution bottlenecks",
            _torchvision("resnext50_32x4d"),
        ),
        ModelSpec(
            "wide_resnet50_2", "resnet", "Wide ResNet-50-2: bottlenecks twice as wide", _torchvision("wide_resnet50_2")
        ),
        ModelSpec(
            "mnasnet1_0", "mnasnet", "MNASNet 1.0: found by mobile architecture search", _torchvision("mnasnet1_0")
        ),
    )
}


def build_model(
    name: str, num_classes: int = 10, dropout: float = 0.2, init: str = "default", source: str = ""
) -> nn.Module:
    """The named model; one that needs larger images than 32x32 first resizes them on the device.
    With source, name is a user's FILE.py:Class (engine/user_model.py), built from that text."""
    from torch import nn

    if name.startswith("timm:"):
        from . import timm_models

        model = timm_models.build(name, num_classes)
        if init != "default":
            apply_init(model, init)
        return model
    if source:
        from . import user_model

        model = user_model.build(name, source, num_classes, dropout)
        if init != "default":
            apply_init(model, init)
        return model
    spec = MODELS[name]
    model = spec.build(num_classes, dropout)
    if init != "default":
        apply_init(model, init)
    if spec.input_size != 32:
        model = nn.Sequential(nn.Upsample(size=spec.input_size, mode="bilinear", align_corners=False), model)
    return model


def parameter_count(name: str, num_classes: int = 10) -> int:
    """Counted on the meta device: no memory, no initialisation time."""
    import torch

    with torch.device("meta"):
        return count_parameters(MODELS[name].build(num_classes, 0.2))


def apply_init(model: nn.Module, init: str) -> None:
    """The tutorial's weight_init with a choice of scheme for conv and linear weights.

    Biases are drawn from N(0, 1) and BatchNorm weights from N(1, 0.02), as the tutorial does.
    """
    from torch import nn

    scheme = {
        "xavier-uniform": nn.init.xavier_uniform_,
        "xavier-normal": nn.init.xavier_normal_,
        "kaiming-uniform": nn.init.kaiming_uniform_,
        "kaiming-normal": nn.init.kaiming_normal_,
    }[init]
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            scheme(module.weight.data)
            if module.bias is not None:
                nn.init.normal_(module.bias.data)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight.data, mean=1, std=0.02)
            nn.init.constant_(module.bias.data, 0)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
