"""The queue: add a run, a sweep or a search; list what waits."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ...store.runs import RunStore
from ...store.study import OBJECTIVES, PRUNERS, SEARCHES
from ..config_flags import config_options
from ..terminal_tables import print_table
from .root import BadInput, check_text, cli, store_of, sweep_values


@cli.group()
def queue() -> None:
    """The queue of runs that the app (or `cifar-tui worker`) trains in order."""


@queue.command("add")
@config_options
@click.option(
    "--sweep",
    "sweep_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML sweep file: config fields (lists and ranges are axes), sweep, preset, random.",
)
@click.option("--sweep-name", help="Name the sweep's runs share (default: the next free sN).")
@click.option(
    "--random",
    "random_points",
    type=click.IntRange(1, 100_000),
    help="Draw N distinct points from the lists, ranges and intervals.",
)
@click.option(
    "--search",
    type=click.Choice(SEARCHES),
    help="A search instead of a sweep: Optuna proposes each next point from the results (tpe), "
    "or draws it (random), or walks the grid's lists (grid); trials are queued as others end.",
)
@click.option(
    "--trials", type=click.IntRange(1, 10_000), help="A search's trials in all (default: 20; grid: its size)."
)
@click.option(
    "--prune", type=click.Choice(PRUNERS), help="Stop a search's losing trials at an epoch's end (default: none)."
)
@click.option(
    "--objective",
    help=f"What a search optimises: {', '.join(OBJECTIVES)} (default: test_acc); or several result columns, "
    "comma-separated (test_acc,seconds), each its own way, for a front (--search nsga2, tpe, random or grid; no --prune).",
)
@click.option(
    "--parallel", type=click.IntRange(1, 1000), help="A search's trials queued or running at once (default: 1)."
)
@click.option("--yes", is_flag=True, help="Queue more than 100 runs without asking.")
@click.option("--json", "as_json", is_flag=True, help="Print {sweep, ids} as JSON instead of one id per line.")
@click.pass_context
def queue_add(
    ctx: click.Context,
    sweep_file: Path | None,
    sweep_name: str | None,
    random_points: int | None,
    search: str | None,
    trials: int | None,
    prune: str | None,
    objective: str | None,
    parallel: int | None,
    yes: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Queue a run, or a sweep: any flag takes a list (--lr 1e-3,3e-3), an integer a range
    (--seed 0..4), a number an interval with --random N (--lr 1e-4:1e-1, log-uniform).
    The runs are the cross product, queued in one transaction; prints their ids."""
    from ...engine.sweep import MAX_RUNS, expand, is_sweep, load_sweep_file

    values, options = ({}, {}) if sweep_file is None else load_sweep_file(sweep_file)
    preset = flags.pop("preset")
    preset = options.get("preset") if preset is None else preset
    values.update(sweep_values(flags))
    random_points = random_points if random_points is not None else options.get("random")
    sweep_name = sweep_name if sweep_name is not None else options.get("sweep")
    if sweep_name is not None:
        if not str(sweep_name).strip() or len(str(sweep_name)) > 100:
            raise BadInput("sweep-name: give 1 to 100 characters")
        check_text("sweep-name", str(sweep_name), 100)
    asked = {"search": search, "trials": trials, "prune": prune, "objective": objective, "parallel": parallel}
    searching = {key: value if value is not None else options.get(key) for key, value in asked.items()}
    if searching["search"] is not None:
        if random_points is not None:
            raise BadInput("random: a search proposes its own points; give --trials N instead of --random")
        name, ids = queue_search(store_of(ctx), values, preset, searching, sweep_name)
        click.echo(json.dumps({"sweep": name, "ids": ids}) if as_json else "\n".join(map(str, ids)))
        if not as_json:
            click.echo(f"queued {len(ids)} of search {name}'s trials; the next are proposed as these end", err=True)
        return
    stray = [key for key, value in searching.items() if value is not None]
    if stray:
        raise BadInput(f"{stray[0]}: a search's option; add --search tpe|random|grid")
    # The same command draws the same points: the seed is the sweep's name, or what it varies.
    configs = expand(values, preset, random_points, rng_seed=sweep_name or repr(sorted(values.items())))
    if len(configs) > 100 and not yes:
        if not sys.stdin.isatty():
            raise BadInput(f"queue add: {len(configs):,} runs; add --yes to queue more than 100 (at most {MAX_RUNS:,})")
        click.confirm(f"Queue {len(configs):,} runs?", abort=True, err=True)
    store = store_of(ctx)
    warn_unserved_devices(store, {c.device for c in configs})
    if is_sweep(values) or sweep_file is not None or sweep_name is not None:
        name, ids = store.enqueue_sweep([c.to_dict() for c in configs], sweep_name)
    else:
        name, ids = None, [store.enqueue(configs[0].to_dict())]
    if as_json:
        click.echo(json.dumps({"sweep": name, "ids": ids}))
    else:
        click.echo("\n".join(map(str, ids)))
        if name:
            click.echo(f"queued {len(ids)} runs as sweep {name}", err=True)


def queue_search(
    store: RunStore, values: dict[str, Any], preset: str | None, options: dict[str, Any], name: str | None
) -> tuple[str, list[int]]:
    """Start a search (store/study.py); its settings from the flags or the sweep file."""
    from ...store.study import StudySettings, grid_size, search_space

    given = {key: value for key, value in options.items() if value is not None}
    if given["search"] == "grid" and "trials" not in given:
        given["trials"] = grid_size(search_space(values, preset)[0]) or 20
    try:
        settings = StudySettings(**given).checked()
    except TypeError as error:
        raise BadInput(f"search: {error}") from None
    return store.enqueue_study(values, preset, settings, name)


def warn_unserved_devices(store: RunStore, devices: set[str]) -> None:
    """One line for a device that no worker of this store has registered and this machine lacks:
    its runs would wait in the queue unseen (a worker on another machine may still serve it)."""
    asked = {d for d in devices if d != "auto"}
    if not asked:
        return
    from ...engine.device import available_devices
    from ..worker.job_source import queued_for

    served = store.known_devices() | set(available_devices())
    for device in sorted(asked):
        if not any(device in queued_for(have) for have in served):
            print(
                f"cifar-tui: warning: no worker of this store can train on {device} (this machine has "
                f"{', '.join(available_devices())}); its runs wait until a worker on such a device starts",
                file=sys.stderr,
            )


@queue.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@click.pass_context
def queue_list(ctx: click.Context, as_json: bool) -> None:
    """Running and queued runs, in the order they run, with the config fields that vary among them."""
    store = store_of(ctx)
    shown = ("id", "name", "status", "model", "dataset", "epochs", "epochs_done")
    varying = [field for field in store.queue_varying_fields() if field not in (*shown, "device", "name")]
    rows = [
        {key: row[key] for key in shown}
        | {"device": row["config"].get("device", "auto")}
        | {field: row["config"].get(field) for field in varying}
        for row in store.queue()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        print_table(rows, title="Queue")
