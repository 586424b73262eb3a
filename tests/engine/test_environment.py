"""What each run ran on: measured in the training process when a run starts, recorded with it."""

import json
import platform
import subprocess
from pathlib import Path

import pytest
import torch
import torchvision

from cifar_tui.engine.config import make_config
from cifar_tui.engine.environment import ENVIRONMENT, _cudnn_text, differing_fields, environment_columns
from cifar_tui.engine.events import RunStarted
from cifar_tui.engine.train import train
from cifar_tui.store.comparison import environment_differences
from cifar_tui.store.recorder import Recorder
from cifar_tui.store.runs import RunStore

CHECKOUT = Path(__file__).resolve().parents[2]


def started_environment(tmp_path, device="cpu") -> dict:
    events = []
    config = make_config("seed-cnn", dataset="synthetic", device=device, epochs=1, limit_batches=2)
    train(1, config, events.append, data_dir=tmp_path)
    [started] = [e for e in events if isinstance(e, RunStarted)]
    return json.loads(started.environment)


def test_a_run_on_the_cpu_records_its_software_its_cpu_and_its_machine(tmp_path):
    environment = started_environment(tmp_path)
    assert list(environment) == sorted(f.key for f in ENVIRONMENT)  # every field, keys sorted: equal text
    assert environment["python"] == platform.python_version()
    assert (environment["torch"], environment["torchvision"]) == (torch.__version__, torchvision.__version__)
    assert environment["cuda"] == torch.version.cuda and environment["cpu_threads"] == torch.get_num_threads()
    assert environment["gpu"] is None and environment["gpu_driver"] is None  # a CPU run used no GPU
    assert environment["cpu"] and environment["host"] and environment["os"] and environment["cifar_tui"]
    if (CHECKOUT / ".git").exists() and subprocess.run(["git", "--version"], capture_output=True).returncode == 0:
        head = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"], capture_output=True, text=True)
        assert head.stdout.startswith(environment["git_commit"].removesuffix("+changes"))


@pytest.mark.gpu
def test_a_run_on_cuda_records_its_gpu_capability_and_driver(tmp_path):
    environment = started_environment(tmp_path, device="cuda")
    assert environment["gpu"] == torch.cuda.get_device_name(0)
    assert environment["gpu_capability"] == "{}.{}".format(*torch.cuda.get_device_capability(0))
    assert environment["gpu_driver"] and environment["cudnn"]


def test_cudnn_versions_read_as_people_write_them():
    assert (_cudnn_text(90100), _cudnn_text(8902), _cudnn_text(None)) == ("9.1.0", "8.9.2", None)


def test_the_recorder_keeps_it_and_a_start_without_one_keeps_the_last(tmp_path):
    path = tmp_path / "runs.db"
    store = RunStore(path)
    run_id = store.enqueue({"model": "seed-cnn", "dataset": "synthetic", "epochs": 1})
    store.claim(run_id)
    recorder = Recorder(path)
    measured = json.dumps({"torch": "2.14.1", "host": "a"}, sort_keys=True)
    recorder(RunStarted(run_id, "{}", "cpu", "CPU", 1, 3, 3, environment=measured))
    recorder(RunStarted(run_id, "{}", "cpu", "CPU", 1, 3, 3, first_step=3))  # an older worker resumes it
    recorder.close()
    assert store.run(run_id)["environment"] == {"torch": "2.14.1", "host": "a"}
    assert environment_columns(store.run(run_id)["environment"])["env_torch"] == "2.14.1"


def test_differences_field_by_field_between_runs_and_within_a_set():
    a = {"torch": "2.14.1", "gpu": None, "host": "a"}
    b = a | {"torch": "2.11.0", "gpu": "NVIDIA H200"}
    assert differing_fields([a, b, None]) == ["torch", "gpu"]  # None: a run that recorded none
    assert differing_fields([a, a | {}]) == []
    runs = [[{"environment": a}], [{"environment": b}, {"environment": a | {"host": "b"}}], [{"environment": {}}]]
    assert environment_differences(runs) == {
        "torch": ["2.14.1", "mixed: 2.11.0, 2.14.1", ""],
        "gpu": ["none", "mixed: NVIDIA H200, none", ""],
        "host": ["a", "mixed: a, b", ""],
    }
    assert environment_differences([[{"environment": a}], [{"environment": dict(a)}]]) == {}
