import pytest

from cifar_tui.engine.config import PRESETS, ConfigError, RunConfig, make_config


def test_defaults_are_the_tutorials():
    config = RunConfig()
    assert (config.model, config.batch_size, config.lr, config.optimizer, config.hflip) == (
        "seed-cnn",
        64,
        1e-3,
        "adam",
        True,
    )


def test_json_round_trip():
    config = make_config("seed-resnet", dataset="synthetic", name="try 1", crop=True, seed=7)
    assert RunConfig.from_json(config.to_json()) == config


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        RunConfig().lr = 0.1


@pytest.mark.parametrize(
    "preset, model, epochs",
    [("seed-cnn", "seed-cnn", 10), ("seed-resnet", "seed-resnet", 3), ("seed-resnet18", "resnet18", 3)],
)
def test_presets(preset, model, epochs):
    config = make_config(preset)
    assert (config.model, config.epochs, config.batch_size, config.lr, config.optimizer) == (
        model,
        epochs,
        64,
        1e-3,
        "adam",
    )


def test_flags_override_a_preset_and_none_keeps_it():
    config = make_config("seed-cnn", epochs="2", lr=None, hflip=False)
    assert (config.epochs, config.lr, config.hflip, config.init) == (2, 1e-3, False, "xavier-uniform")


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({"lr": -1}, "lr", "> 0"),
        ({"lr": "fast"}, "lr", "a number"),
        ({"model": "no-such-model"}, "model", "seed-cnn"),
        ({"dataset": "mnist"}, "dataset", "synthetic"),
        ({"epochs": 0}, "epochs", "between 1"),
        ({"epochs": "2.5"}, "epochs", "an integer"),
        ({"batch_size": 0}, "batch_size", "between 1"),
        ({"optimizer": "rmsprop"}, "optimizer", "adam, adamw, sgd"),
        ({"nesterov": True}, "nesterov", "sgd"),
        ({"dropout": 1.0}, "dropout", "< 1"),
        ({"init": "zeros"}, "init", "kaiming-normal"),
        ({"device": "gpu"}, "device", "cuda:N"),
        ({"hflip": "maybe"}, "hflip", "true or false"),
        ({"seed": -1}, "seed", "between 0"),
        ({"weight_decay": -0.1}, "weight_decay", ">= 0"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_values_name_the_field_and_what_is_allowed(changes, field, words):
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_dict(changes)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="preset: unknown preset 'x'; allowed: " + ", ".join(PRESETS)):
        make_config("x")


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_devices_accepted(device):
    assert make_config(device=device).device == device


def test_text_from_a_form_is_coerced():
    config = RunConfig.from_dict({"epochs": "3", "lr": "0.01", "hflip": "no", "optimizer": "sgd", "nesterov": "yes"})
    assert (config.epochs, config.lr, config.hflip, config.nesterov) == (3, 0.01, False, True)
