"""`cifar-tui bench ui`: the run table at scale. A store of N finished runs x 3 epochs (a sweep of
lr x batch size x model x seeds) against one of 100, the same operations timed on both: the
command line's `runs --limit 50`, the app's start, the Runs tab, a sort, a filter, the grouped
mode and a grouped LaTeX export."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ...engine.config import make_config

SMALL = 100


def build_store(path: Path, runs: int) -> None:
    from ...engine.events import EpochEnd, RunFinished
    from ...store.recorder import record
    from ...store.runs import RunStore

    grid = [
        make_config(dataset="synthetic", epochs=3, lr=lr, batch_size=batch, model=model, seed=seed).to_dict()
        for seed in range(-(-runs // 24))  # 24 configs per seed
        for lr in (1e-3, 3e-3, 1e-2, 3e-2)
        for batch in (64, 128, 256)
        for model in ("seed-cnn", "seed-resnet")
    ][:runs]
    store = RunStore(path)
    _, ids = store.enqueue_sweep(grid, "scale")
    rng = random.Random(0)
    with store.write():  # the recorder's own writes (store/recorder.py), in one transaction
        for run_id in ids:
            accs = [rng.uniform(40, 90) for _ in range(3)]
            for epoch, acc in enumerate(accs, 1):
                record(store, EpochEnd(run_id, epoch, epoch * 782, 1.0, 1.0, acc, (), 10.0, 5000.0))
            record(store, RunFinished(run_id, accs[-1], 1.0, 30.0))
    store.close()


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(home_path: Path) -> dict[str, float]:
    from ...store.export import export, table
    from ..worker.home import Home

    def runs_command() -> None:  # as a user types it: a fresh process, its start-up included
        command = [sys.executable, "-m", "cifar_tui.tui.cli", "--home", str(home_path), "runs", "--limit", "50"]
        subprocess.run(command, check=True, capture_output=True)

    result = {"runs_limit_50_s": _seconds(runs_command)}
    home = Home(home_path)
    result["group_export_s"] = _seconds(
        lambda: export(*reversed(table(home.store(), sort="-test_acc", grouped=True)), "latex")
    )
    result.update(asyncio.run(_app_times(home)))
    return {k: round(v, 3) for k, v in result.items()}


async def _app_times(home) -> dict[str, float]:
    from textual.widgets import Input

    from ..app import CifarApp
    from ..views.runs_view import RunsView

    times = {}
    start = time.perf_counter()
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        times["app_start_s"] = time.perf_counter() - start
        view = app.query_one(RunsView)
        for key, name in (("2", "queue_tab_s"), ("4", "runs_tab_s")):  # any tab switch's cost, then the Runs tab's
            start = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            times[name] = time.perf_counter() - start
        times["sort_s"] = _seconds(lambda: view.sort_by("test_acc"))
        filter_input = app.query_one("#runs-filter", Input)
        with filter_input.prevent(Input.Changed):  # timed here, not when the message arrives
            filter_input.value = "lr<0.005 model=seed-resnet"
        times["filter_s"] = _seconds(view.reload)
        with filter_input.prevent(Input.Changed):
            filter_input.value = ""
        times["grouped_s"] = _seconds(view.action_toggle_groups)
        assert view.rows, "the grouped table is empty"
    return times


def bench_ui(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        small, large = Path(folder) / "small", Path(folder) / "large"
        small.mkdir()
        large.mkdir()
        build_store(small / "runs.db", SMALL)
        start = time.perf_counter()
        build_store(large / "runs.db", runs)
        built = time.perf_counter() - start
        at_small, at_large = measure(small), measure(large)
    return {
        "runs": runs,
        "build_s": round(built, 1),
        **{f"{key}_at_{runs}": value for key, value in at_large.items()},
        **{f"ratio_{key}_vs_{SMALL}": round(at_large[key] / max(at_small[key], 1e-6), 1) for key in at_large},
        f"at_{SMALL}": json.dumps(at_small),
    }
