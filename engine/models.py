"""The model registry: every trainable architecture by name.

Importing this module is cheap (no torch); a model's code is imported when it is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    description: str
    build: Callable[[int, float], "nn.Module"]  # (num_classes, dropout) -> module
    input_size: int = 32


def _seed_cnn(num_classes: int, dropout: float) -> "nn.Module":
    from engine.seed_models import SeedCNN

    return SeedCNN(num_classes, dropout)


def _seed_resnet(num_classes: int, dropout: float) -> "nn.Module":
    from engine.seed_models import SeedResNet

    return SeedResNet(num_classes)


def _resnet18(num_classes: int, dropout: float) -> "nn.Module":
    from torchvision.models import resnet18

    return resnet18(weights=None, num_classes=num_classes)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("seed-cnn", "cnn", "The tutorial's CNN: 4 conv-BN-tanh blocks, 3 linear layers with dropout", _seed_cnn),
        ModelSpec("seed-resnet", "resnet", "The tutorial's small ResNet: BasicBlocks, 16-32-64 channels", _seed_resnet),
        ModelSpec("resnet18", "resnet", "torchvision ResNet-18 (ImageNet stem), trained from scratch", _resnet18),
    )
}


def build_model(name: str, num_classes: int = 10, dropout: float = 0.2, init: str = "default") -> "nn.Module":
    model = MODELS[name].build(num_classes, dropout)
    if init != "default":
        apply_init(model, init)
    return model


def apply_init(model: "nn.Module", init: str) -> None:
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


def count_parameters(model: "nn.Module") -> int:
    return sum(p.numel() for p in model.parameters())
