"""A model from the user's own file: read and recorded once, built from the recorded text."""

import textwrap

import pytest
import torch

from cifar_tui.engine.config import ConfigError, make_config
from cifar_tui.engine.data import Dataset, Split, synthetic
from cifar_tui.engine.events import EpochEnd, RunFailed, RunFinished, RunStarted
from cifar_tui.engine.train import evaluated_part, train
from cifar_tui.engine.user_model import UserModelError, build, check_output, is_user_model, label
from cifar_tui.engine.worker import Job, run_job

NET = textwrap.dedent(
    """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self, num_classes, dropout=0.0, width=16):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * 16, num_classes),
            )

        def forward(self, x):
            return self.body(x)


    class Flat(Net):
        def forward(self, x):
            return self.body[:4](x)  # features, not logits


    class Boom(Net):
        def forward(self, x):
            if self.training:
                raise ValueError("boom in forward")
            return super().forward(x)


    class NoClasses(nn.Module):
        def __init__(self):
            super().__init__()


    def tiny(num_classes):
        return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, num_classes))
    """
)


@pytest.fixture
def net_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(NET)
    return tmp_path / "net.py"


def test_a_model_file_is_named_file_py_colon_name():
    assert is_user_model("net.py:Net") and is_user_model("models/my net.py:build_it")
    assert not is_user_model("seed-cnn") and not is_user_model("net.py:") and not is_user_model("net.py:1x")


def test_the_config_records_the_source_and_tables_show_file_class_and_hash(net_file):
    config = make_config(model="net.py:Net", dataset="synthetic")
    assert config.model_source == NET
    assert config.model_label == label("net.py:Net", NET) == f"net.py:Net@{config.model_label[-8:]}"
    assert config.replace(model="seed-cnn", model_source="").model_label == "seed-cnn"


@pytest.mark.parametrize(
    "model, source, message",
    [
        ("missing.py:Net", None, "model: no file missing.py"),
        ("net.py:Nope", NET, "model: net.py defines no Nope (it defines Boom, Flat, Net, NoClasses, tiny)"),
        ("net.py:Net", "class Net(nn.Module:\n    pass\n", "model: net.py line 1: syntax error"),
    ],
)
def test_a_file_that_cannot_be_used_is_a_one_line_config_error(net_file, model, source, message):
    if source is not None:
        net_file.write_text(source)
    with pytest.raises(ConfigError) as caught:
        make_config(model=model)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_a_class_or_a_function_is_built_with_num_classes_and_dropout_if_it_takes_one():
    net = build("net.py:Net", NET, 7, 0.3)
    assert net.body[0].out_channels == 16 and net.body[5].p == 0.3
    assert build("net.py:tiny", NET, 7, 0.3)[1].out_features == 7
    with pytest.raises(UserModelError, match="NoClasses takes no num_classes argument"):
        build("net.py:NoClasses", NET, 10, 0.0)


def test_the_wrong_output_says_what_came_out():
    with pytest.raises(UserModelError) as caught:
        check_output(build("net.py:Flat", NET, 10, 0.0), "net.py:Flat", 10, "cpu")
    assert (
        str(caught.value)
        == "model: Flat returned shape (2, 16, 4, 4) for 2 images; expected (2, 10): one logit per class"
    )


def test_an_import_error_carries_the_users_traceback():
    broken = NET.replace("import torch\n", "import torch\nimport no_such_module\n")
    with pytest.raises(UserModelError) as caught:
        build("net.py:Net", broken, 10, 0.0)
    assert "failed to load: ModuleNotFoundError: No module named 'no_such_module'" in str(caught.value)
    assert 'File "net.py@' in caught.value.detail and "line 3" in caught.value.detail


def test_a_user_model_trains_and_learns_the_synthetic_data(net_file, tmp_path):
    config = make_config(model="net.py:Net", dataset="synthetic", device="cpu", epochs=2, limit_batches=60)
    events = []
    train(1, config, events.append, data_dir=tmp_path)
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.params == sum(p.numel() for p in build("net.py:Net", NET, 10, 0.0).parameters())
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.test_acc > 50


@pytest.mark.parametrize(
    "model, error, in_detail",
    [
        ("net.py:Flat", "model: Flat returned shape (2, 16, 4, 4)", ""),
        ("net.py:Boom", "ValueError: boom in forward", 'raise ValueError("boom in forward")'),
    ],
)
def test_the_users_mistake_fails_the_run_with_one_line_and_their_traceback(net_file, tmp_path, model, error, in_detail):
    events = []
    config = make_config(model=model, dataset="synthetic", device="cpu", epochs=1, limit_batches=5)
    run_job(Job(1, config), events.append, lambda: False, tmp_path)
    failed = events[-1]
    assert isinstance(failed, RunFailed) and failed.error.startswith(error)
    assert in_detail in failed.detail
    if in_detail:  # the traceback starts in their file: the engine's frames mean nothing to them
        assert failed.detail.splitlines()[1].startswith('  File "net.py@')


def test_the_recorded_source_is_built_not_the_file_as_it_is_now(net_file, tmp_path):
    config = make_config(model="net.py:Net", dataset="synthetic", device="cpu", epochs=1, limit_batches=3)
    net_file.write_text("this is not python")
    events = []
    train(2, config, events.append, data_dir=tmp_path)
    assert isinstance(events[-1], RunFinished)


def test_a_quick_check_evaluates_a_share_of_the_test_set_like_the_share_it_trains_on():
    data = synthetic(n_train=5_000, n_test=1_000)
    quick = make_config(batch_size=50, limit_batches=10)  # 500 of 5,000 training images: a tenth
    assert len(evaluated_part(quick, data)) == 100  # a tenth of the test set, in whole batches
    assert len(evaluated_part(quick.replace(limit_eval_batches=3), data)) == 150
    assert len(evaluated_part(quick.replace(limit_eval_batches=0), data)) == 1_000  # 0: all of it
    assert len(evaluated_part(make_config(batch_size=50), data)) == 1_000  # no limit: all of it
    assert len(evaluated_part(make_config(batch_size=50, limit_batches=1), data)) == 50  # at least a batch


def test_a_limited_evaluation_is_recorded_as_partial(tmp_path):
    events = []
    config = make_config(dataset="synthetic", device="cpu", epochs=1, limit_batches=20)
    train(1, config, events.append, data_dir=tmp_path)
    end = next(e for e in events if isinstance(e, EpochEnd))
    assert end.eval_images == 256  # 20 x 64 of 50,000 training images: 2.56% of 10,000 test images, 4 batches
    assert sum(end.confusion) == 256


def test_the_readme_example_builds_and_returns_logits():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    source = readme.split("```python\n# net.py\n", 1)[1].split("```", 1)[0]
    assert len(source.splitlines()) <= 15
    check_output(build("net.py:Net", source, 10, 0.2), "net.py:Net", 10, "cpu")


def test_a_partial_evaluation_covers_every_class_of_a_test_set_stored_class_by_class():
    """Issue 24: an image folder is read class by class; the first N images would be one class."""
    data = synthetic(n_train=5_000, n_test=1_000)
    order = torch.argsort(data.test.labels, stable=True)
    ordered = Dataset(data.train, Split(data.test.images[order], data.test.labels[order]), data.classes)
    part = evaluated_part(make_config(batch_size=50, limit_eval_batches=2), ordered)
    assert len(part) == 100
    shares = torch.bincount(ordered.test.labels, minlength=10) / 10  # each class's share of 100
    assert (torch.bincount(part.labels, minlength=10) - shares).abs().max() <= 1
    again = evaluated_part(make_config(batch_size=50, limit_eval_batches=2, seed=7), ordered)
    assert torch.equal(part.images, again.images)  # every run of a group: the same images
