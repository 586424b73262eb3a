"""`cifar-tui export --mlflow URI FILTER`: the runs as MLflow runs, by MLflow's own client
(`mlflow-skinny`: the extra `cifar-tui[mlflow]`), in the experiment "cifar-tui".

URI is a tracking URI (`sqlite:///mlflow.db`, the backend MLflow recommends; an `http://` server)
or a folder (a local `mlruns` file store, which MLflow keeps in maintenance mode).
Each run: params from its config; metrics with their steps and the run's own clock as
timestamps (`loss_batch` each step; at each epoch's last step `train_loss`, `test_loss`,
`test_acc`, `raw_test_acc`, `lr`, `images_per_s` and `held_out.<set>`); tags: its name, tags,
status, sweep, search and environment (`env.<key>`); MLflow's status from ours. A run is keyed
by our run id (the tag `cifar-tui.run_id`): exporting again updates that MLflow run, adding
only the metric steps it lacks and the params it lacks (MLflow never changes a logged param).
With `--with-checkpoint`, a run's last checkpoint (`<home>/checkpoints/<id>/last.pt`) is logged
as its artifact `checkpoint/last.pt`, again only where that artifact is missing or differs in size.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.checkpoint import checkpoint_path  # torch-free: paths only
from .run_clock import RunClock, finite

if TYPE_CHECKING:
    from ..store.runs import RunStore

EXTRA = "pip install 'cifar-tui[mlflow]'"
EXPERIMENT = "cifar-tui"
RUN_ID_TAG = "cifar-tui.run_id"
EPOCH_METRICS = ("train_loss", "test_loss", "test_acc", "raw_test_acc", "lr", "images_per_s")
STATUSES = {"finished": "FINISHED", "failed": "FAILED", "queued": "SCHEDULED", "running": "RUNNING"}  # the rest KILLED
BATCH = 1000  # MLflow's most metrics in one log_batch
ARTIFACT_FOLDER = "checkpoint"


class MlflowMissing(ImportError):
    """MLflow is not installed; the message says how to install it."""


def tracking_uri(text: str) -> str:
    """A URI as given; a folder as its file store's URI (allowed, though MLflow deprecates it)."""
    if "://" in text or text.startswith("sqlite:"):
        return text
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return Path(text).absolute().as_uri()


def artifacts_beside(uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: for a `sqlite:///` database, a folder beside
    it (MLflow's default is ./mlruns in whatever folder the command ran in); elsewhere MLflow's own."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).absolute().parent / "mlflow-artifacts").as_uri()


def export_mlflow(
    store: RunStore, runs: list[dict[str, Any]], uri: str, checkpoints: Path | None = None
) -> tuple[int, int]:
    """(runs created, runs updated) in the tracking store at uri; with checkpoints (the home's
    checkpoints folder), each run's last checkpoint as an artifact."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise MlflowMissing(f"mlflow: MLflow is not installed here; {EXTRA}") from None
    for noisy in ("mlflow", "alembic"):  # their notes on creating tables are not the user's business
        logging.getLogger(noisy).setLevel(logging.WARNING)
    client = MlflowClient(tracking_uri=tracking_uri(uri))
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(EXPERIMENT, artifact_location=artifacts_beside(uri))
    )
    ours = _ours(client, experiment_id)
    created = updated = 0
    for run in runs:
        existing = ours.get(run["id"])
        if existing is None:
            started = RunClock(run, []).at(0)
            mlflow_run = client.create_run(
                experiment_id,
                start_time=None if started is None else int(started * 1000),
                tags={RUN_ID_TAG: str(run["id"])},
                run_name=run["name"] or f"run {run['id']}",
            )
            run_uuid, logged = mlflow_run.info.run_id, {}
            created += 1
        else:
            run_uuid, logged = existing, _logged(client, existing)
            updated += 1
        _write(client, store, run, run_uuid, logged)
        if checkpoints is not None:
            _log_checkpoint(client, run_uuid, checkpoint_path(checkpoints, run["id"]))
    return created, updated


def _log_checkpoint(client, run_uuid: str, path: Path) -> None:
    if not path.is_file():
        return
    logged = {f.path: f.file_size for f in client.list_artifacts(run_uuid, ARTIFACT_FOLDER)}
    if logged.get(f"{ARTIFACT_FOLDER}/{path.name}") != path.stat().st_size:
        client.log_artifact(run_uuid, str(path), ARTIFACT_FOLDER)


def _ours(client, experiment_id: str) -> dict[int, str]:
    """Our run id -> its MLflow run's id, of the runs an earlier export made here."""
    found, token = {}, None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        for mlflow_run in page:
            ours = mlflow_run.data.tags.get(RUN_ID_TAG, "")
            if ours.isdigit():
                found[int(ours)] = mlflow_run.info.run_id
        token = page.token
        if not token:
            return found


def _logged(client, run_uuid: str) -> dict[str, Any]:
    """What the MLflow run holds already: its params, and each metric's steps."""
    data = client.get_run(run_uuid).data
    steps = {key: {m.step for m in client.get_metric_history(run_uuid, key)} for key in data.metrics}
    return {"params": data.params, "steps": steps}


def _write(client, store: RunStore, run: dict[str, Any], run_uuid: str, logged: dict[str, Any]) -> None:
    from mlflow.entities import Metric, Param, RunTag

    epochs = store.epochs(run["id"])
    clock = RunClock(run, epochs)
    have = logged.get("steps", {})

    def metric(key: str, value: float, step: int) -> Metric | None:
        if not finite(value) or step in have.get(key, ()):
            return None
        when = clock.at(step)
        return Metric(key, float(value), int(when * 1000) if when is not None else 0, step)

    metrics = [metric("loss_batch", loss, step) for _, step, _, loss in store.losses_every(run["id"])]
    held_out = store.held_out_by_epoch(run["id"])
    for row in epochs:
        metrics += [metric(key, row.get(key), row["step"]) for key in EPOCH_METRICS]
        metrics += [
            metric(f"held_out.{name}", acc, row["step"]) for name, acc in held_out.get(row["epoch"], {}).items()
        ]
    metrics = [m for m in metrics if m is not None]
    params = [Param(k, v) for k, v in _params(run).items() if k not in logged.get("params", {})]
    tags = [RunTag(k, v) for k, v in _tags(run).items()]
    for first in range(0, max(len(metrics), 1), BATCH):
        client.log_batch(run_uuid, metrics=metrics[first : first + BATCH], params=params, tags=tags)
        params, tags = [], []
    status = STATUSES.get(run["status"], "KILLED")
    if status not in ("RUNNING", "SCHEDULED"):
        ended = clock.at(epochs[-1]["step"]) if epochs else None
        client.set_terminated(run_uuid, status, end_time=int(ended * 1000) if ended is not None else None)


def _params(run: dict[str, Any]) -> dict[str, str]:
    config = run["config"] if isinstance(run["config"], dict) else json.loads(run["config"])
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in sorted(config.items())}


def _tags(run: dict[str, Any]) -> dict[str, str]:
    environment = run.get("environment") or {}
    if isinstance(environment, str):
        environment = json.loads(environment)
    tags = {
        "mlflow.runName": run["name"] or f"run {run['id']}",
        "cifar-tui.status": run["status"],
        "cifar-tui.tags": ",".join(run.get("tags") or []),
        "cifar-tui.sweep": run.get("sweep") or "",
        "cifar-tui.search": (run.get("sweep") or "") if run.get("trial") is not None else "",
        "cifar-tui.error": (run.get("error") or "")[:5000],
    }
    return tags | {f"env.{key}": str(value) for key, value in sorted(environment.items())}
