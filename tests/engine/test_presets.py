"""Every preset makes a valid config that trains, and the reference presets say what their
source reports for their recipe."""

from __future__ import annotations

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.engine.data import synthetic
from cifar_tui.engine.events import EpochEnd
from cifar_tui.engine.presets import PRESET_LIST, PRESETS, REFERENCES
from cifar_tui.engine.train import train

DATA = synthetic(n_train=16, n_test=8)


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_trains_a_few_batches_on_the_cpu(name):
    # a CPU's speed settings, and one epoch's schedule: the recipe's epochs-long parts do not fit in it
    cpu = dict(compile="off", precision="fp32", last_epoch_share=1.0)
    one_epoch = dict(warmup_epochs=0.0, lr_milestones="0.5+0.75", whiten_bias_epochs=0)
    quick = dict(dataset="synthetic", device="cpu", epochs=1, batch_size=4, limit_batches=2)
    config = make_config(name, **quick, **cpu, **one_epoch)
    events = []
    train(1, config, events.append, data=DATA)
    (end,) = [e for e in events if isinstance(e, EpochEnd)]
    assert end.step == 2 and 0 <= end.test_acc <= 100


@pytest.mark.parametrize(
    "name, model, accuracy, recipe",
    [
        ("resnet20", "resnet20", 91.25, dict(weight_decay=1e-4, batch_size=128, epochs=164, lr_milestones="0.5+0.75")),
        ("resnet110", "resnet110", 93.39, dict(warmup_epochs=1.0, lr_gamma=0.1)),
        ("preact-resnet18", "preact-resnet18", 95.11, dict(weight_decay=5e-4, epochs=200, lr_schedule="cosine")),
        ("wrn-28-10", "wrn-28-10", 96.00, dict(nesterov=True, lr_milestones="60+120+160", lr_gamma=0.2, dropout=0.0)),
        ("wrn-16-8", "wrn-16-8", 95.73, dict(weight_decay=5e-4, epochs=200)),
        ("densenet-bc-100", "densenet-bc-100", 95.49, dict(batch_size=64, epochs=300, weight_decay=1e-4)),
    ],
)
def test_a_reference_preset_is_its_paper_s_recipe_and_figure(name, model, accuracy, recipe):
    config = make_config(name)
    assert config.model == model and (config.optimizer, config.lr, config.momentum) == ("sgd", 0.1, 0.9)
    assert config.crop and config.hflip and config.dataset == "cifar10"
    assert {key: getattr(config, key) for key in recipe} == recipe
    reference = REFERENCES[name]
    assert reference.accuracy == accuracy and reference.dataset == "cifar10" and reference.epochs == config.epochs


def test_every_preset_is_one_declaration_and_every_reference_names_its_source():
    assert list(PRESETS) == [p.name for p in PRESET_LIST] and len(set(PRESETS)) == len(PRESET_LIST)
    for name, reference in REFERENCES.items():
        assert reference.source and 0 < reference.accuracy < 100, name
        assert reference.epochs == make_config(name).epochs or name == "resnet18-cifar" or name.startswith("speedrun")
        assert name != "resnet18-cifar" or "60 epochs" in reference.differs  # shorter than its source: said


def test_the_readme_lists_every_preset_with_its_published_figure():
    from pathlib import Path

    from cifar_tui.tui.preset_references import markdown_table

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert markdown_table() in readme  # regenerated from the declarations, not copied by hand
    for preset in PRESET_LIST:
        row = next(line for line in markdown_table().splitlines() if line.startswith(f"| `{preset.name}` |"))
        if preset.reference is not None:
            assert f"{preset.reference.accuracy:.2f}%" in row and preset.reference.source in row, preset.name
