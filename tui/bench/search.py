"""`cifar-tui bench search`: a search against the full grid of the same space, on the synthetic
data, through the same store, claims, proposals and pruning verdicts that workers use (in this
one process, one trial at a time). Reports each one's best objective, the epochs it trained and
its time: a search earns its place when it finds the grid's best (within half a point) for a
fraction of the grid's epochs."""

from __future__ import annotations

import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

SPACE = {"lr": "1e-4,3e-4,1e-3,3e-3,1e-2,3e-2", "batch_size": "32,64,128", "weight_decay": "0,5e-4"}
FIXED = {"dataset": "synthetic", "device": "cpu", "model": "seed-cnn", "epochs": 3, "seed": 0}


def bench_search(trials: int, batches: int, search: str = "tpe", prune: str = "median") -> dict[str, Any]:
    from ...engine.sweep import parse_value
    from ...store.study import StudySettings, grid_size, search_space

    values = {**FIXED, "limit_batches": batches, **{k: parse_value(k, v) for k, v in SPACE.items()}}
    grid = grid_size(search_space(values, None)[0])
    with tempfile.TemporaryDirectory() as folder:
        full = run_study(Path(folder) / "grid.db", values, StudySettings(search="grid", trials=grid, parallel=1))
        found = run_study(
            Path(folder) / "search.db",
            values,
            StudySettings(search=search, trials=trials, prune=prune, parallel=1),
        )
    return {
        "space": " x ".join(f"{k} ({len(v.split(','))})" for k, v in SPACE.items()) + f", {FIXED['epochs']} epochs",
        "batches an epoch": batches,
        "grid: best test acc.": round(full["best"], 2),
        "grid: epochs trained": full["epochs"],
        "grid: seconds": round(full["seconds"], 1),
        f"{search} + {prune}: trials (pruned)": f"{found['trials']} ({found['pruned']})",
        f"{search} + {prune}: best test acc.": round(found["best"], 2),
        f"{search} + {prune}: epochs trained": found["epochs"],
        f"{search} + {prune}: seconds": round(found["seconds"], 1),
        "best: search - grid (points)": round(found["best"] - full["best"], 2),
        "epochs: search / grid": round(found["epochs"] / full["epochs"], 3),
    }


def run_study(path: Path, values: dict[str, Any], settings, front: bool = False) -> dict[str, Any]:
    """Every trial of a new study in `path`, trained one after another as a worker would; with
    front, the points it trained and those on its Pareto front (each a tuple of its space's values)."""
    from ...engine.config import RunConfig
    from ...engine.data import synthetic
    from ...engine.train import train
    from ...store.recorder import record
    from ...store.runs import RunStore

    store = RunStore(path)
    store.enqueue_study(values, None, settings)
    data = synthetic()
    start = time.perf_counter()
    while (claim := store.claim_next("bench")) is not None:
        judge = partial(store.judge_trial, seen={}) if store.pruned_by_search(claim.run_id) else None

        def emit(event) -> None:
            with store.write():
                record(store, event)

        train(
            claim.run_id,
            RunConfig.from_dict(claim.config),
            emit,
            data=data,
            go_on=judge,
        )
    seconds = time.perf_counter() - start
    (progress,) = store.studies()
    epochs = store.db.execute("SELECT sum(epochs_done) FROM runs").fetchone()[0]
    found = {**progress, "epochs": epochs, "seconds": seconds, "trials": progress["proposed"]}
    if front:
        from ...store.pareto import front_of_runs
        from ...store.study import objective_names

        ids, _ = front_of_runs(store, "", objective_names(settings.objective))
        configs = store.configs([r["id"] for r in store.find()])
        point = {run_id: tuple(config[k] for k in SPACE) for run_id, config in configs.items()}
        found |= {"points": set(point.values()), "front points": {point[i] for i in ids}}
    store.close()
    return found


def bench_search_front(trials: int, batches: int, objectives: str, search: str = "nsga2") -> dict[str, Any]:
    """A search of several objectives against the full grid of the same space: the grid's Pareto
    front, the search's, and how many of the grid's front points (configs) the search trained."""
    from ...engine.sweep import parse_value
    from ...store.study import StudySettings, grid_size, search_space

    values = {**FIXED, "limit_batches": batches, **{k: parse_value(k, v) for k, v in SPACE.items()}}
    grid = grid_size(search_space(values, None)[0])
    with tempfile.TemporaryDirectory() as folder:
        full = run_study(
            Path(folder) / "grid.db", values, StudySettings("grid", grid, objective=objectives), front=True
        )
        found = run_study(
            Path(folder) / "search.db", values, StudySettings(search, trials, objective=objectives), front=True
        )
    hit = full["front points"] & found["points"]
    return {
        "space": " x ".join(f"{k} ({len(v.split(','))})" for k, v in SPACE.items()) + f", {FIXED['epochs']} epochs",
        "objectives": objectives,
        "grid: trials": grid,
        "grid: Pareto front (points)": len(full["front points"]),
        "grid: epochs trained": full["epochs"],
        f"{search}: trials": found["trials"],
        f"{search}: Pareto front (points)": len(found["front points"]),
        f"{search}: of the grid's front, trained": f"{len(hit)} of {len(full['front points'])}",
        f"{search}: epochs trained": found["epochs"],
        "epochs: search / grid": round(found["epochs"] / full["epochs"], 3),
    }
