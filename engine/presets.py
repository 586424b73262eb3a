"""The presets: each a recipe (the settings it fills in) and, where one is published, its reference
(what the source reports for that recipe), so that a run can be read against the literature.

Importing this module is cheap (no torch, no config): config.py reads PRESETS from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reference:
    """A published figure: test accuracy (%) on `dataset`'s official test set."""

    source: str  # the paper or repository, and where in it
    accuracy: float
    dataset: str = "cifar10"
    n: int | None = None  # the runs behind the figure, where the source says
    spread: str = ""  # how the source states its spread or statistic ("mean of 5, std 0.16", "median of 5")
    epochs: float | None = None
    seconds: float | None = None  # a published training time
    gpu: str = ""  # the GPU of that time
    differs: str = ""  # where this recipe is not the source's, in words


@dataclass(frozen=True)
class Preset:
    name: str
    fields: dict[str, Any]
    reference: Reference | None = None
    about: str = ""


_TUTORIAL = dict(dataset="cifar10", batch_size=64, lr=1e-3, optimizer="adam", hflip=True, crop=False)

# What airbench's two speedruns share: its net on CIFAR-10, label smoothing, the whitening bias
# trained 3 epochs, alternating flips and 2-pixel shifts, test-time flips and shifts, bf16.
_AIRBENCH = dict(
    model="airbench",
    dataset="cifar10",
    drop_last=True,
    label_smoothing=0.2,
    whiten_bias_epochs=3,
    hflip=True,
    alternate_flips=True,
    crop=False,
    translate=2,
    tta="flip-translate",
    precision="bf16",
    channels_last=True,
    cudnn_benchmark=True,
)


def _airbench_sgd(lr: float, weight_decay: float, **fields: Any) -> dict[str, Any]:
    """airbench's legacy SGD recipes in this engine's terms. Their rate and weight decay are
    "decoupled", per 1024 images, with a loss summed over the batch; for this engine's mean loss
    and PyTorch's SGD they are lr / (1 + 1 / (1 - momentum)) and weight_decay / lr."""
    momentum = 0.85
    return dict(
        _AIRBENCH,
        batch_size=1024,
        optimizer="sgd",
        lr=lr / (1 + 1 / (1 - momentum)),
        momentum=momentum,
        nesterov=True,
        weight_decay=weight_decay / lr,
        bias_lr_scale=64.0,
        lookahead=True,
        **fields,
    )


def _legacy_airbench(script: str, accuracy: float, n: int, epochs: int, seconds: float) -> Reference:
    """What airbench's README and a legacy script's header report: a mean of n runs, on an A100."""
    return Reference(
        f"Jordan 2024, airbench (legacy/{script}.py)",
        accuracy,
        n=n,
        spread=f"mean of {n}",
        epochs=epochs,
        seconds=seconds,
        gpu="NVIDIA A100",
        differs=_NORMALIZE + "; bf16 where the script runs fp16",
    )


# The standard CIFAR augmentation and SGD of the ResNet-family papers.
_SGD = dict(dataset="cifar10", optimizer="sgd", lr=0.1, momentum=0.9, hflip=True, crop=True)

# He et al. 2016 (section 4.2): batch 128, weight decay 1e-4, 64k steps (about 164 epochs of 391),
# the rate / 10 at 32k and 48k steps.
_CIFAR_RESNET = dict(_SGD, batch_size=128, weight_decay=1e-4, epochs=164, lr_schedule="multistep")
_RESNET_PAPER = "He et al. 2016, Deep Residual Learning, table 6"

# Zagoruyko & Komodakis 2016: Nesterov, weight decay 5e-4, batch 128, 200 epochs, the rate x 0.2 at
# epochs 60, 120 and 160; the main tables without dropout.
_WRN = dict(
    _SGD,
    nesterov=True,
    batch_size=128,
    weight_decay=5e-4,
    epochs=200,
    lr_schedule="multistep",
    lr_milestones="60+120+160",
    lr_gamma=0.2,
    dropout=0.0,
)
_WRN_PAPER = "Zagoruyko & Komodakis 2016, Wide Residual Networks, table 4"
_NORMALIZE = "Normalize(0.5, 0.5) where the source uses the dataset's mean and std"

PRESET_LIST: tuple[Preset, ...] = (
    Preset(
        "seed-cnn",
        dict(_TUTORIAL, model="seed-cnn", epochs=10, dropout=0.2, init="xavier-uniform"),
        Reference("the tutorial (../seed/tutorial.md), its printed result", 64.86, n=1, epochs=10),
        "the tutorial's CNN",
    ),
    Preset(
        "seed-resnet",
        dict(_TUTORIAL, model="seed-resnet", epochs=3),
        Reference("the tutorial (../seed/tutorial.md), its printed result", 73.14, n=1, epochs=3),
        "the tutorial's small ResNet",
    ),
    Preset(
        "seed-resnet18",
        dict(_TUTORIAL, model="resnet18", epochs=3),
        Reference("the tutorial (../seed/tutorial.md), its printed result", 70.31, n=1, epochs=3),
        "the tutorial's torchvision resnet18",
    ),
    # airbench94's recipe (Keller Jordan, 2024: 94% on CIFAR-10 in 3.29 s on an A100), in this
    # engine's terms. Its learning rate (11.5 per 1024 images) and weight decay (0.0153) are
    # "decoupled" and its loss a sum over the batch; for this engine's mean loss and PyTorch's SGD
    # they are lr 11.5 / (1 + 1 / (1 - 0.85)) = 1.5 and weight decay 0.0153 / 11.5 = 0.00133.
    Preset(
        "speedrun",
        dict(
            _AIRBENCH,
            epochs=10,
            last_epoch_share=0.9,
            batch_size=1024,
            optimizer="sgd",
            lr=1.5,
            momentum=0.85,
            nesterov=True,
            weight_decay=0.0153 / 11.5,
            bias_lr_scale=64.0,
            lookahead=True,
            lr_schedule="speedrun",
        ),
        Reference("Jordan 2024, airbench (airbench94.py)", 94.01, epochs=9.9, seconds=3.29, gpu="NVIDIA A100"),
        "airbench94",
    ),
    # airbench94_muon's recipe (94.01% in 2.59 s on an A100). Its loss is a sum over the batch of
    # 2,000 and its head's weights are scaled to unit std with the logits divided by 256; for this
    # engine's mean loss and airbench net (logits / 9) its SGD rates 0.67 (head) and 0.053 (biases)
    # and decoupled weight decay 0.004 are lr 0.67 * (9/256)^2 * 2000 = 1.656, bias_lr_scale 64
    # and weight decay 0.004 / 1.656. Muon's own rate does not depend on the gradient's scale.
    Preset(
        "speedrun-muon",
        dict(
            _AIRBENCH,
            epochs=8,
            batch_size=2000,
            optimizer="muon",
            muon_lr=0.24,
            lr=0.67 * (9 / 256) ** 2 * 2000,
            momentum=0.85,
            weight_decay=0.004 / (0.67 * (9 / 256) ** 2 * 2000),
            bias_lr_scale=64.0,
            lr_schedule="linear",
            compile="default",
        ),
        Reference("Jordan 2024, airbench (airbench94_muon.py)", 94.01, epochs=8, seconds=2.59, gpu="NVIDIA A100"),
        "airbench94_muon",
    ),
    # airbench95 (legacy/airbench95.py): airbench94 with blocks 128-384-384, lr 10.0 and weight
    # decay 0.0153 per 1024 images, 15 epochs.
    Preset(
        "speedrun-95",
        _airbench_sgd(10.0, 0.0153, model="airbench95", epochs=15, lr_schedule="speedrun"),
        _legacy_airbench("airbench95", 95.01, n=200, epochs=15, seconds=10.4),
        "airbench95",
    ),
    # airbench96 (legacy/airbench96.py): its net of residual blocks 128-384-512, lr 9.0 and weight
    # decay 0.012 per 1024 images, 37 epochs, a 10% warm-up and a fall to 0, 4-pixel shifts and
    # 12-pixel cutout inside the image.
    Preset(
        "speedrun-96",
        _airbench_sgd(
            9.0,
            0.012,
            model="airbench96",
            epochs=37,
            lr_schedule="speedrun96",
            translate=4,
            cutout=12,
            cutout_inside=True,
        ),
        _legacy_airbench("airbench96", 96.03, n=400, epochs=37, seconds=34.7),
        "airbench96",
    ),
    *(
        Preset(
            f"resnet{depth}",
            dict(_CIFAR_RESNET, model=f"resnet{depth}", **({"warmup_epochs": 1.0} if depth == 110 else {})),
            Reference(
                _RESNET_PAPER,
                accuracy,
                n=n,
                spread=spread,
                epochs=164,
                differs=_NORMALIZE
                + (
                    "; the paper's warm-up is 0.01 until 80% train accuracy (about 400 steps), here a linear "
                    "warm-up over an epoch"
                    if depth == 110
                    else ""
                ),
            ),
            f"He et al.'s CIFAR ResNet-{depth}",
        )
        for depth, accuracy, n, spread in (
            (20, 91.25, None, ""),
            (56, 93.03, None, ""),
            (110, 93.39, 5, "mean of 5, std 0.16 (best 93.57)"),
        )
    ),
    Preset(
        "preact-resnet18",
        dict(_SGD, model="preact-resnet18", batch_size=128, weight_decay=5e-4, epochs=200, lr_schedule="cosine"),
        Reference(
            "kuangliu/pytorch-cifar, README table",
            95.11,
            epochs=200,
            differs=_NORMALIZE + "; this cosine warms up for an epoch first (CosineAnnealingLR does not)",
        ),
        "pre-activation ResNet-18",
    ),
    Preset(
        "resnet18-cifar",
        dict(
            _SGD,
            model="resnet18-cifar",
            nesterov=True,
            batch_size=128,
            weight_decay=5e-4,
            epochs=60,
            lr_schedule="cosine",
        ),
        Reference(
            "kuangliu/pytorch-cifar, README table (ResNet18)",
            93.02,
            epochs=200,
            differs=_NORMALIZE + "; 60 epochs of Nesterov SGD (kuangliu: 200 epochs, plain momentum), the cosine after "
            "an epoch's warm-up",
        ),
        "ResNet-18 with a CIFAR stem",
    ),
    Preset(
        "wrn-28-10",
        dict(_WRN, model="wrn-28-10"),
        Reference(_WRN_PAPER, 96.00, n=5, spread="median of 5", epochs=200, differs=_NORMALIZE),
        "Wide-ResNet-28-10 (96.92% with --cutout 16, DeVries & Taylor 2017)",
    ),
    Preset(
        "wrn-16-8",
        dict(_WRN, model="wrn-16-8"),
        Reference(_WRN_PAPER, 95.73, n=5, spread="median of 5", epochs=200, differs=_NORMALIZE),
        "Wide-ResNet-16-8",
    ),
    # Huang et al. 2017: Nesterov, weight decay 1e-4, batch 64, 300 epochs, the rate / 10 at 50%, 75%.
    Preset(
        "densenet-bc-100",
        dict(
            _SGD,
            model="densenet-bc-100",
            nesterov=True,
            batch_size=64,
            weight_decay=1e-4,
            epochs=300,
            lr_schedule="multistep",
            lr_milestones="0.5+0.75",
        ),
        Reference(
            "Huang et al. 2017, Densely Connected Convolutional Networks, table 2",
            95.49,
            epochs=300,
            differs=_NORMALIZE,
        ),
        "DenseNet-BC (L=100, k=12)",
    ),
)

PRESETS: dict[str, dict[str, Any]] = {preset.name: preset.fields for preset in PRESET_LIST}
REFERENCES: dict[str, Reference] = {p.name: p.reference for p in PRESET_LIST if p.reference is not None}
