"""--model timm:NAME: timm's models from scratch, sized for the dataset, said plainly when their
stem is ImageNet's, refused in one line when timm or the model is missing."""

from __future__ import annotations

import builtins

import pytest
import torch

from cifar_tui.engine.config import ConfigError, make_config
from cifar_tui.engine.data import synthetic
from cifar_tui.engine.events import EpochEnd
from cifar_tui.engine.models import build_model
from cifar_tui.engine.train import train

pytest.importorskip("timm")


def test_a_timm_model_trains_with_the_dataset_s_classes_and_its_imagenet_stem_is_said(capsys):
    config = make_config(model="timm:resnet18", dataset="synthetic", device="cpu", epochs=1, limit_batches=2)
    events = []
    train(1, config, events.append, data=synthetic(n_train=128, n_test=64))
    assert [e.step for e in events if isinstance(e, EpochEnd)] == [2]
    err = capsys.readouterr().err
    assert "timm:resnet18 keeps its ImageNet stem: a 32x32 image is 1x1 at its last features" in err
    assert build_model("timm:resnet18", num_classes=100)(torch.zeros(2, 3, 32, 32)).shape == (2, 100)


def test_a_vision_transformer_is_sized_for_32x32_images_and_no_stem_is_said(capsys):
    model = build_model("timm:vit_tiny_patch16_224", num_classes=10)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert model.patch_embed.grid_size == (2, 2)


@pytest.mark.parametrize(
    "name, words",
    [
        ("timm:resnet9000", "model: timm has no model 'resnet9000'; like it:"),
        ("timm:nonesuch", "see timm.list_models()"),
    ],
)
def test_a_model_timm_does_not_have_is_one_line(name, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        make_config(model=name)


def test_without_timm_the_error_says_how_to_install_it(monkeypatch):
    real_import = builtins.__import__

    def no_timm(name, *args, **kwargs):
        if name == "timm" or name.startswith("timm."):
            raise ImportError("No module named 'timm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_timm)
    with pytest.raises(ConfigError, match=r"model: timm is not installed: pip install 'cifar-tui\[timm\]'"):
        make_config(model="timm:resnet18")
