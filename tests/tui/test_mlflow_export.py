"""`cifar-tui export --mlflow URI`: each run an MLflow run, read back with MLflow's own client
(`search_runs`, `get_metric_history`) as the store has it, and updated, not duplicated, when
exported again."""

import pytest

from cifar_tui.store.runs import RunStore
from tests.tui.test_cli import cifar_tui
from tests.tui.test_tensorboard_export import HOSTILE, home  # noqa: F401 (a fixture)

pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow  # MLflow's client and its database take seconds to start


@pytest.mark.parametrize("where", ["sqlite", "folder"])
def test_each_run_is_an_mlflow_run_as_the_store_has_it_and_a_second_export_updates_it(home, capsys, where):  # noqa: F811
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{home / 'mlflow.db'}" if where == "sqlite" else str(home / "mlruns")
    status, _, err = cifar_tui(capsys, "export", "--mlflow", uri)
    assert status == 0 and err.strip().endswith("2 new, 0 updated"), err
    client = MlflowClient(tracking_uri=uri if where == "sqlite" else (home / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("cifar-tui")
    found = {int(r.data.tags["cifar-tui.run_id"]): r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(found) == [1, 2]
    store = RunStore(home / "home" / "runs.db")
    for run_id, mlflow_run in found.items():
        run = store.run(run_id)
        assert mlflow_run.info.run_name == run["name"] and mlflow_run.info.status == "FINISHED"
        assert (
            mlflow_run.data.params["lr"] == str(run["config"]["lr"]) and mlflow_run.data.params["model"] == "seed-cnn"
        )
        assert mlflow_run.data.tags["cifar-tui.status"] == "finished"
        history = client.get_metric_history(mlflow_run.info.run_id, "loss_batch")
        assert [(m.step, m.value) for m in history] == [(s, loss) for _, s, _, loss in store.losses_every(run_id)]
        assert history[0].timestamp < history[-1].timestamp  # the run's own clock
        accuracy = client.get_metric_history(mlflow_run.info.run_id, "test_acc")
        assert [(m.step, m.value) for m in accuracy] == [(e["step"], e["test_acc"]) for e in store.epochs(run_id)]
    assert found[2].info.run_name == HOSTILE  # a name is data: kept as it is
    assert (found[1].data.tags["env.torch"], found[1].data.tags["env.host"]) == ("2.14.1", "lab-1")
    held_out = client.get_metric_history(found[1].info.run_id, "held_out.cifar10.1")
    assert [(m.step, m.value) for m in held_out] == [(store.epochs(1)[-1]["step"], 47.5)]
    store.tag(1, ["paper"], [])
    store.close()

    status, _, err = cifar_tui(capsys, "export", "--mlflow", uri)
    assert status == 0 and err.strip().endswith("0 new, 2 updated"), err
    again = client.search_runs([experiment.experiment_id])
    assert len(again) == 2  # keyed by our run id: updated, not duplicated
    updated = next(r for r in again if r.data.tags["cifar-tui.run_id"] == "1")
    assert updated.data.tags["cifar-tui.tags"] == "paper"
    assert [m.step for m in client.get_metric_history(updated.info.run_id, "loss_batch")] == list(range(200))
    assert [m.step for m in client.get_metric_history(updated.info.run_id, "test_acc")] == [100, 200]


def test_the_store_is_never_an_mlflow_target(home, capsys):  # noqa: F811
    status, _, err = cifar_tui(capsys, "export", "--mlflow", f"sqlite:///{home / 'home' / 'runs.db'}")
    assert status == 2 and "is this home's run store" in err


def test_with_checkpoint_each_run_s_last_checkpoint_is_its_artifact_once(home, capsys, monkeypatch):  # noqa: F811
    monkeypatch.chdir(home / "home")
    from mlflow.tracking import MlflowClient

    checkpoint = home / "home" / "checkpoints" / "1" / "last.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights" * 1000)
    uri = f"sqlite:///{home / 'mlflow.db'}"
    status, _, err = cifar_tui(capsys, "export", "--tensorboard", str(home / "tb"), "--with-checkpoint")
    assert status == 2 and "add --mlflow URI" in err
    for _ in range(2):
        assert cifar_tui(capsys, "export", "--mlflow", uri, "--with-checkpoint")[0] == 0
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "cifar-tui"]
    found = {
        int(r.data.tags["cifar-tui.run_id"]): r.info.run_id for r in client.search_runs([experiment.experiment_id])
    }
    [artifact] = client.list_artifacts(found[1], "checkpoint")
    assert artifact.path == "checkpoint/last.pt" and artifact.file_size == checkpoint.stat().st_size
    assert (home / "mlflow-artifacts").is_dir()  # beside the database, not in the folder the command ran in
    downloaded = client.download_artifacts(found[1], "checkpoint/last.pt", str(home))
    assert open(downloaded, "rb").read() == checkpoint.read_bytes()
    assert client.list_artifacts(found[2], "checkpoint") == []  # run 2 has no checkpoint
    assert not (home / "home" / "mlruns").exists()
