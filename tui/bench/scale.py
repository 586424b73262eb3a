"""`cifar-tui bench scale`: the queue's wall time for a few small runs with one worker, with a
worker per device (`worker --devices`) and on Ray (`worker --ray`, a local Ray started by the
command), each a real `cifar-tui worker --until-empty` process on a fresh home, timed from its
start to its exit. Start-up is the time from the command's start to its first run's start."""

from __future__ import annotations

import importlib.util
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ...engine.config import make_config
from ...store.runs import RunStore
from ..worker.spawn import spawn_args


def bench_scale(devices: str, runs: int = 4, batches: int = 150, with_ray: bool = True) -> dict[str, Any]:
    """devices: the --devices list to compare (and its length: Ray gets that many runs at once)."""
    count = len(devices.split(","))
    modes = {
        "one worker": ["--device", devices.split(",")[0]],
        f"--devices {devices}": ["--devices", devices],
    }
    if with_ray and importlib.util.find_spec("ray") is not None:
        modes[f"ray, {count} at once"] = ["--ray", "--cpus-per-run", "1"]
    configs = [
        make_config(dataset="synthetic", device="auto", epochs=1, limit_batches=batches, seed=seed).to_dict()
        for seed in range(runs)
    ]
    result: dict[str, Any] = {"runs": runs, "batches_per_run": batches}
    with tempfile.TemporaryDirectory() as folder:
        for name, args in modes.items():
            wall, start_up = _queue_wall_time(Path(folder) / str(len(result)), configs, args)
            result[f"{name}: wall s"] = round(wall, 2)
            result[f"{name}: start-up s"] = round(start_up, 2)
    base = result["one worker: wall s"]
    for name in list(modes)[1:]:
        result[f"{name}: speed-up"] = round(base / result[f"{name}: wall s"], 2)
    if len(modes) == 3:
        ray_name = list(modes)[2]
        result["ray start-up overhead s"] = round(
            result[f"{ray_name}: start-up s"] - result["one worker: start-up s"], 2
        )
    else:
        result["ray"] = "not installed: pip install 'cifar-tui[ray]'"
    return result


def _queue_wall_time(home: Path, configs: list[dict], worker_args: list[str]) -> tuple[float, float]:
    store = RunStore(home / "runs.db")
    ids = [store.enqueue(config) for config in configs]
    began, started = time.time(), time.perf_counter()
    subprocess.run(
        spawn_args(home, *worker_args, "--until-empty"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    wall = time.perf_counter() - started
    rows = [store.run(run_id) for run_id in ids]
    store.close()
    unfinished = [row["id"] for row in rows if row["status"] != "finished"]
    if unfinished:
        raise RuntimeError(f"bench scale: runs {unfinished} did not finish with worker {' '.join(worker_args)}")
    first_start = min(datetime.fromisoformat(row["started_at"]).timestamp() for row in rows)
    return wall, first_start - began
