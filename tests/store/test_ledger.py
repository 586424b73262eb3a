"""The ledger: a preset's published figure against its finished, unchanged runs, per dataset,
with what was left out and why; statistics against scipy's own."""

from __future__ import annotations

import json

import pytest
from scipy import stats

from cifar_tui.engine.config import make_config
from cifar_tui.store.runs import RunStore

OFFICIAL = {"gpu": "NVIDIA H100", "data_files": "official CIFAR-10 (md5)"}
JPEG = {
    "gpu": "NVIDIA H100",
    "data_files": "not the official CIFAR-10 files: data_batch_1..5 and test_batch differ (md5)",
}


@pytest.fixture
def store(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    yield store
    store.close()


def finished(store, config, acc, environment=OFFICIAL, seconds=600.0, eval_images=0, status="finished"):
    run_id = store.enqueue(config.to_dict())
    with store.write():
        store.db.execute(
            "UPDATE runs SET status = ?, test_acc = ?, seconds = ?, eval_images = ?, environment = ? WHERE id = ?",
            [status, acc, seconds, eval_images, json.dumps(environment), run_id],
        )
    return run_id


def rows_of(store, preset):
    return [row for row in store.ledger() if row["preset"] == preset]


def test_a_preset_s_unchanged_runs_are_compared_with_its_published_figure(store):
    accuracies = [91.0, 91.3, 91.6]
    for seed, acc in enumerate(accuracies):  # seed, device and speed settings are free
        finished(store, make_config("resnet20", seed=seed, device="cpu", compile="off", channels_last=False), acc)
    finished(store, make_config("resnet20", lr=0.05), 99.0)  # a changed recipe field
    finished(store, make_config("resnet20", limit_eval_batches=2), 99.0, eval_images=256)  # part of the test set
    finished(store, make_config("resnet20", dataset="synthetic"), 40.0)
    finished(store, make_config("resnet20", dataset="synthetic", seed=1), 42.0)
    finished(store, make_config("resnet20", seed=7), 80.0, environment=JPEG)  # a copy that is not the official files
    finished(store, make_config("resnet20"), 99.0, status="failed")
    finished(store, make_config("resnet20").replace(preset=""), 99.0)  # not made from the preset
    official, *others = rows_of(store, "resnet20")
    low, high = stats.t.interval(0.95, 2, loc=sum(accuracies) / 3, scale=stats.sem(accuracies))
    assert official["data"] == "cifar10" and official["comparable"] and official["n"] == 3
    assert official["mean"] == pytest.approx(91.3)
    assert (official["ci_low"], official["ci_high"]) == pytest.approx((low, high))
    assert official["difference"] == pytest.approx(91.3 - 91.25)
    assert official["published_in_ci"] is True and official["published"] == 91.25
    assert official["p_value"] == pytest.approx(stats.ttest_1samp(accuracies, 91.25).pvalue)
    assert official["gpus"] == ["NVIDIA H100"] and official["seconds"] == 600.0
    assert official["left_out"] == {"a changed recipe field": 1, "part of the test set": 1}
    by_data = {row["data"]: row for row in others}
    assert set(by_data) == {"synthetic", "cifar10 (not the official files)"}
    for row in others:  # never compared silently
        assert not row["comparable"] and row["difference"] is None and row["published_in_ci"] is None
        assert row["left_out"] == {}
    assert by_data["synthetic"]["n"] == 2 and by_data["synthetic"]["mean"] == pytest.approx(41.0)
    assert by_data["cifar10 (not the official files)"]["n"] == 1


def test_a_published_figure_outside_the_interval_is_said_and_a_preset_without_runs_is_listed(store):
    for seed, acc in enumerate([93.9, 94.0, 94.1]):
        finished(store, make_config("wrn-28-10", seed=seed), acc)
    (row,) = rows_of(store, "wrn-28-10")
    assert row["published_in_ci"] is False and row["p_value"] < 0.05  # 96.00 is far above
    assert row["difference"] == pytest.approx(94.0 - 96.0)
    (empty,) = rows_of(store, "densenet-bc-100")
    assert empty["n"] == 0 and empty["mean"] is None and empty["published"] == 95.49
    (one,) = rows_of(store, "resnet56") or [None]
    assert one["n"] == 0
    finished(store, make_config("resnet56"), 93.0)
    (single,) = rows_of(store, "resnet56")
    assert single["n"] == 1 and single["ci_low"] is None and single["published_in_ci"] is None


def test_a_preset_s_run_and_the_same_recipe_typed_as_flags_are_one_group(store):
    from cifar_tui.store.groups import group_key

    from_preset = make_config("resnet20", seed=1)
    typed = make_config(**{k: v for k, v in make_config("resnet20").to_dict().items() if k != "preset"})
    assert from_preset.preset == "resnet20" and typed.preset == ""
    assert group_key(from_preset.to_dict()) == group_key(typed.to_dict())
    finished(store, from_preset, 91.0)
    finished(store, typed, 91.4)
    (group,) = store.groups()
    assert group["n"] == 2
