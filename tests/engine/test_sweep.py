import math

import pytest

from cifar_tui.engine.config import ConfigError
from cifar_tui.engine.sweep import Interval, expand, load_sweep_file, parse_value


def test_lists_and_ranges_make_the_cross_product_with_seed_fastest():
    values = {
        "lr": parse_value("lr", "1e-3,1e-2"),
        "seed": parse_value("seed", "0..2"),
        "model": parse_value("model", "seed-cnn"),
    }
    configs = expand(values)
    assert [(c.lr, c.seed) for c in configs] == [(1e-3, 0), (1e-3, 1), (1e-3, 2), (1e-2, 0), (1e-2, 1), (1e-2, 2)]
    assert {c.model for c in configs} == {"seed-cnn"}


@pytest.mark.parametrize(
    "field, text, message",
    [
        ("seed", "4..1", "seed: an empty range '4..1'"),
        ("seed", "0..x", "seed: a range is two whole numbers"),
        ("lr", "1e-1:1e-4", "lr: an empty interval"),
        ("lr", "1e-3,,1e-2", "lr: an empty item in the list"),
        ("seed", "0..20000", "seed: the range '0..20000' has more than 10000 values"),
    ],
)
def test_bad_sweep_values_name_the_field(field, text, message):
    with pytest.raises(ConfigError, match=message):
        parse_value(field, text)


def test_names_and_devices_are_not_split_into_ranges_or_intervals():
    assert parse_value("name", "a, b") == "a, b"
    assert parse_value("device", "cuda:1") == "cuda:1"
    assert parse_value("device", "cpu,cuda:0") == ["cpu", "cuda:0"]


def test_a_bad_value_in_a_list_names_its_field():
    with pytest.raises(ConfigError, match="optimizer: unknown optimizer 'rmsprop'"):
        expand({"optimizer": parse_value("optimizer", "adam,rmsprop")})


def test_random_points_are_drawn_from_lists_and_log_uniform_intervals():
    values = {"lr": parse_value("lr", "1e-4:1e-1"), "batch_size": parse_value("batch_size", "32,64")}
    assert isinstance(values["lr"], Interval)
    configs = expand(values, random_points=400, rng_seed="s")
    logs = [math.log10(c.lr) for c in configs]
    assert min(logs) >= -4 and max(logs) <= -1
    assert 0.2 < sum(x < -2.5 for x in logs) / len(logs) < 0.8  # log-uniform: half below the middle decade
    assert {c.batch_size for c in configs} == {32, 64}
    assert expand(values, random_points=5, rng_seed="s") == configs[:5]  # the same seed draws the same points


def test_an_interval_needs_random():
    with pytest.raises(ConfigError, match="lr: an interval is sampled: add --random N"):
        expand({"lr": Interval(1e-4, 1e-1)})


def test_too_many_runs_is_refused():
    with pytest.raises(ConfigError, match="sweep: 10,201 runs; at most 10,000"):
        expand({"seed": parse_value("seed", "0..100"), "epochs": parse_value("epochs", "1..101")})


def test_a_sweep_file(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(
        'sweep = "lr-study"\npreset = "seed-cnn"\ndataset = "synthetic"\nlr = [1e-3, 3e-3]\nseed = "0..1"\n'
    )
    values, options = load_sweep_file(path)
    assert options == {"sweep": "lr-study", "preset": "seed-cnn"}
    configs = expand(values, options["preset"])
    assert [(c.lr, c.seed, c.init) for c in configs] == [
        (1e-3, 0, "xavier-uniform"),
        (1e-3, 1, "xavier-uniform"),
        (3e-3, 0, "xavier-uniform"),
        (3e-3, 1, "xavier-uniform"),
    ]
    path.write_text("lr = [1e-3\n")
    with pytest.raises(ConfigError, match="sweep: .*study.toml is not valid TOML"):
        load_sweep_file(path)
    path.write_text("learning_rate = 0.1\n")
    with pytest.raises(ConfigError, match="learning_rate: unknown field in study.toml"):
        load_sweep_file(path)
