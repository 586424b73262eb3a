import json
import shutil
import tempfile
from pathlib import Path

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.engine.events import EpochEnd, Losses, RunFinished, RunStarted
from cifar_tui.store.recorder import record
from cifar_tui.store.runs import RunStore
from cifar_tui.tui.worker.home import Home


@pytest.fixture
def home(tmp_path):
    return Home(tmp_path / "home")


@pytest.fixture
def snapshot_home():
    """A home at a fixed path, so that the header (which shows it) is the same in every snapshot."""
    path = Path(tempfile.gettempdir()) / "cifar-tui-snapshot-home"
    shutil.rmtree(path, ignore_errors=True)
    yield Home(path)
    shutil.rmtree(path, ignore_errors=True)


# What a run ran on, made up and the same on every machine (engine/environment.py's fields).
SNAPSHOT_ENVIRONMENT = {
    "cifar_tui": "0.1.0",
    "git_commit": "1095d97b7ac4",
    "python": "3.11.7",
    "torch": "2.14.1+cu130",
    "torchvision": "0.29.1+cu130",
    "cuda": "13.0",
    "cudnn": "9.24.0",
    "gpu": "NVIDIA H200",
    "gpu_capability": "9.0",
    "gpu_driver": "580.95.05",
    "cpu": "AMD EPYC 9654 96-Core Processor",
    "cpu_threads": 16,
    "host": "gpu-box",
    "os": "Linux-6.8.0-x86_64-with-glibc2.39",
}


def finished_run(
    store: RunStore, accs=(40.0, 55.0, 61.5), steps_per_epoch=100, environment=None, raw_accs=None, **config
) -> int:
    """Record a whole run, as the engine would have, with a smooth made-up loss curve (and the
    environment it ran on, when one is given; with raw_accs, the raw model's accuracies of an
    --ema run)."""
    settings = dict(dataset="synthetic", device="cpu", epochs=len(accs))
    settings.update(config)
    cfg = make_config("seed-cnn", **settings)
    run_id = store.enqueue(cfg.to_dict())
    store.claim(run_id, worker="test:1")
    events = [
        RunStarted(
            run_id,
            cfg.to_json(),
            "cpu",
            "2 CPU threads",
            43626,
            steps_per_epoch,
            steps_per_epoch * len(accs),
            environment=json.dumps(environment, sort_keys=True) if environment else "",
        )
    ]
    for epoch, acc in enumerate(accs, start=1):
        first = (epoch - 1) * steps_per_epoch
        events.append(Losses(run_id, epoch, first, tuple(2.3 / (1 + (first + i) / 50) for i in range(steps_per_epoch))))
        events.append(
            EpochEnd(
                run_id,
                epoch,
                epoch * steps_per_epoch,
                2.0 / epoch,
                1.5 / epoch,
                acc,
                tuple(acc + i - 5 for i in range(10)),
                10.0,
                5000.0 + 100 * epoch,
                raw_test_acc=raw_accs[epoch - 1] if raw_accs else None,
            )
        )
    events.append(RunFinished(run_id, accs[-1], 1.5 / len(accs), 30.0))
    with store.write():
        for event in events:
            record(store, event)
    return run_id


@pytest.fixture
def runs_home(snapshot_home):
    store = snapshot_home.store()
    finished_run(store, name="baseline", environment=SNAPSHOT_ENVIRONMENT)
    finished_run(
        store,
        accs=(35.0, 50.0, 58.0),
        model="seed-resnet",
        lr=0.01,
        name="resnet lr 0.01",
        environment=SNAPSHOT_ENVIRONMENT | {"torch": "2.11.0+cu128", "cudnn": "9.10.2"},
    )
    finished_run(store, accs=(45.0, 62.0), optimizer="sgd", nesterov=True, name="sgd")
    failed = store.enqueue(make_config("seed-cnn", dataset="cifar10", name="no data").to_dict())
    store.claim(failed)
    with store.write():
        store.db.execute(
            "UPDATE runs SET status = 'failed', error = ? WHERE id = ?",
            ["CIFAR-10 could not be downloaded (URLError)", failed],
        )
    store.close()
    return snapshot_home


def config_json(**changes):
    return json.dumps(make_config("seed-cnn", **changes).to_dict())
