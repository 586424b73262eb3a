"""`cifar-tui export --tensorboard DIR`: every scalar as the store has it, read back with
TensorBoard's own reader (event_accumulator), the config as hparams, and a second export that
replaces the first."""

import numpy as np
import pytest

from cifar_tui.store.runs import RunStore
from tests.tui.conftest import finished_run
from tests.tui.test_cli import cifar_tui

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

HOSTILE = "../$x$ 50% _a_/b"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path / "home"))
    store = RunStore(tmp_path / "home" / "runs.db")
    finished_run(store, accs=(40.0, 55.0), name="baseline", lr=0.003, environment={"torch": "2.14.1", "host": "lab-1"})
    finished_run(store, accs=(41.0, 57.0), raw_accs=(39.5, 54.25), ema=0.99, name=HOSTILE)
    with store.write():
        store.db.execute(
            "INSERT INTO evaluations VALUES (1, 2, 'cifar10.1', '', 2000, 47.5, 1.7), "
            "(1, 2, 'cifar10-c', 'gaussian_noise/3', 10000, 38.25, 2.1)"
        )
    store.close()
    return tmp_path


def read(folder):
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return events


def test_every_scalar_is_the_store_s_and_the_config_is_its_hparams(home, capsys):
    status, _, err = cifar_tui(capsys, "export", "--tensorboard", str(home / "tb"))
    assert status == 0 and "wrote 2 runs" in err, err
    assert sorted(p.name for p in (home / "tb").iterdir()) == ["1-baseline", "2-__x__50___a__b"]
    store = RunStore(home / "home" / "runs.db")
    for run_id, folder in ((1, "1-baseline"), (2, "2-__x__50___a__b")):
        events = read(home / "tb" / folder)
        losses = events.Scalars("loss/batch")
        assert [(e.step, e.value) for e in losses] == [
            (step, np.float32(loss)) for _, step, _, loss in store.losses_every(run_id)
        ]
        assert losses[0].wall_time < losses[-1].wall_time  # the run's own clock
        epochs = store.epochs(run_id)
        for tag, column in (("accuracy/test", "test_acc"), ("loss/test", "test_loss"), ("lr", "lr")):
            expected = [(row["step"], np.float32(row[column])) for row in epochs if row[column] is not None]
            assert [(e.step, e.value) for e in events.Scalars(tag)] == expected, tag
        content = events.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hparams = start.session_start_info.hparams
        config = store.run(run_id)["config"]
        assert hparams["lr"].number_value == config["lr"] and hparams["model"].string_value == "seed-cnn"
        assert hparams["run_id"].number_value == run_id
        assert events.Scalars("hparams/test_acc")[0].value == np.float32(store.run(run_id)["test_acc"])
    raw = read(home / "tb" / "2-__x__50___a__b").Scalars("accuracy/test_raw")
    assert [e.value for e in raw] == [39.5, 54.25]
    held_out = read(home / "tb" / "1-baseline")
    assert held_out.Scalars("held_out/cifar10.1")[0].value == 47.5
    assert held_out.Scalars("held_out/cifar10-c/gaussian_noise/3")[0].value == 38.25
    assert "accuracy/test_raw" not in held_out.Tags()["scalars"]
    store.close()


def test_exporting_again_replaces_each_run_s_folder_and_a_filter_chooses_the_runs(home, capsys):
    files = []
    for _ in range(2):
        assert cifar_tui(capsys, "export", "--tensorboard", str(home / "tb"), "name=baseline")[0] == 0
        files.append(len(list((home / "tb" / "1-baseline").glob("events.out.tfevents.*"))))
    assert [p.name for p in (home / "tb").iterdir()] == ["1-baseline"]
    assert files[0] == files[1] == 2  # the scalars' writer and the hparams' one, once each
    assert len(read(home / "tb" / "1-baseline").Scalars("accuracy/test")) == 2
    status, _, err = cifar_tui(capsys, "export", "--tensorboard", str(home / "tb"), "name=nobody")
    assert status == 2 and "no run matches" in err
    status, _, err = cifar_tui(capsys, "export", "--tensorboard", str(home / "home" / "checkpoints"))
    assert status == 2 and "checkpoints folder" in err


def test_without_tensorboard_the_export_says_which_extra_to_install(home, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if it were not installed
    status, _, err = cifar_tui(capsys, "export", "--tensorboard", str(home / "tb"))
    assert status == 1
    assert (
        err.strip()
        == "cifar-tui: error: tensorboard: TensorBoard is not installed here; pip install 'cifar-tui[tensorboard]'"
    )
