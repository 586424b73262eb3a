"""The benchmarks run and report what they promise (their figures are not asserted: they are measurements)."""

import json

import pytest

from tests.tui.test_cli import cifar_tui


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_bench_store_quick(capsys):
    status, out, _ = cifar_tui(capsys, "bench", "store", "--quick")
    result = last_json(out)
    assert status == 0 and result["rows"] == 1_000_000
    assert {"insert_rows_per_s", "runs_list_ms", "curve_ms"} <= set(result)


@pytest.mark.slow
def test_bench_training_quick(capsys):
    status, out, _ = cifar_tui(capsys, "bench", "--quick", "--device", "cpu")
    result = last_json(out)
    assert status == 0
    assert {"device", "model", "seed_img_s", "engine_img_s", "recorded_img_s", "speedup", "logging_overhead"} <= set(
        result
    )
    assert result["speedup"] == pytest.approx(result["engine_img_s"] / result["seed_img_s"], rel=0.01)
    assert result["loss_rows_recorded"] == 150  # the recorded run kept every step's loss


def test_bench_rejects_an_unknown_model(capsys):
    status, _, err = cifar_tui(capsys, "bench", "--model", "lenet")
    assert status == 2 and "model: unknown model 'lenet'" in err


@pytest.mark.slow
def test_bench_scale_times_the_queue_with_one_worker_and_a_worker_per_device(capsys):
    status, out, _ = cifar_tui(capsys, "bench", "scale", "--runs", "2", "--batches", "5", "--no-ray")
    result = last_json(out)
    assert status == 0 and result["runs"] == 2
    assert result["--devices cpu,cpu: speed-up"] == pytest.approx(
        result["one worker: wall s"] / result["--devices cpu,cpu: wall s"], abs=0.01
    )
    assert result["one worker: start-up s"] < result["one worker: wall s"]


def test_bench_scale_rejects_a_bad_device_list(capsys):
    status, _, err = cifar_tui(capsys, "bench", "scale", "--devices", "cpu,,cpu")
    assert status == 2 and "devices: an empty name in the list" in err
