"""Commands that train: run, resume, evaluate, worker."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ...engine.config import ConfigError, make_config
from ...store.actions import existing_run, resumable_run
from ...store.runs import RunStore
from ..config_flags import config_options
from ..safe_text import printable
from ..terminal_tables import run_document
from ..worker.command import start as start_worker
from ..worker.command import worker_options
from .root import RUN_ID, BadInput, check_device, cli, config_from_flags, store_of


@cli.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON (show --json) instead of its id.")
@click.pass_context
def run(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Train one run in the foreground and record it; prints its id (progress goes to stderr)."""
    from ..worker.headless import train_in_foreground

    config = config_from_flags(flags)
    check_device(config)
    started: list[int] = []

    def announce(run_id: int) -> None:
        started.append(run_id)
        if not as_json:
            click.echo(run_id)
            sys.stdout.flush()  # a script reading the id learns it before training ends

    status = train_in_foreground(ctx.obj, config, on_run_id=announce)
    if as_json and started:
        click.echo(json.dumps(show_record(store_of(ctx), started[0]), indent=2, ensure_ascii=False))
    sys.exit(status)


@cli.command()
@click.argument("run_id", type=RUN_ID)
@click.option("--device", type=str, help="Train on this device instead of the run's own.")
@click.pass_context
def resume(ctx: click.Context, run_id: int, device: str | None) -> None:
    """Continue an interrupted, failed or cancelled run from its last checkpoint, here."""
    from ...engine.config import RunConfig
    from ..worker.headless import train_in_foreground

    store = store_of(ctx)
    row = resumable_run(store, run_id, ctx.obj.checkpoint_dir)
    config = RunConfig.from_dict(row["config"])
    if device is not None:
        config = config.replace(device=device)
    check_device(config)
    store.close()
    sys.exit(train_in_foreground(ctx.obj, config, run_id))


@cli.command("evaluate")
@click.argument("runs", nargs=-1, required=True)
@click.option(
    "--eval-on", "eval_on", required=True, help="The sets, as the config field takes them (see `run --help`)."
)
@click.option("--device", default="auto", show_default=True)
@click.pass_context
def evaluate_command(ctx: click.Context, runs: tuple[str, ...], eval_on: str, device: str) -> None:
    """Evaluate finished runs' checkpoints on held-out sets, recorded like a run's own: RUN_ID...,
    or a filter (`cifar-tui evaluate sweep=s3 --eval-on cifar10.1:PATH`)."""
    from ...engine.checkpoint import CheckpointError, checkpoint_path
    from ...engine.checkpoint_evaluation import evaluate_checkpoint
    from ...engine.cifar_classes import class_names
    from ...engine.config import RunConfig
    from ...engine.eval_sets import EvalSetError
    from ...store.recorder import record
    from ...store.run_filter import FilterError

    store = store_of(ctx)
    try:
        eval_on = make_config(eval_on=eval_on, dataset="synthetic").eval_on  # each path checked, made absolute
    except ConfigError as error:
        raise BadInput(str(error)) from None
    filter_text = f"id={','.join(runs)}" if all(r.isdigit() for r in runs) else " ".join(runs)
    try:
        chosen = store.find(f"{filter_text} status=finished")
    except FilterError as error:
        raise BadInput(str(error)) from None
    if not chosen:
        raise BadInput(f"runs: no finished run matches {' '.join(runs)!r}; see `cifar-tui runs`")
    check_device(make_config(device=device))
    evaluated = 0
    for row in chosen:
        run = store.run(row["id"])
        config = RunConfig.from_dict(run["config"])
        epochs = store.epochs(row["id"])
        classes = class_names(run["classes"], len(epochs[-1]["class_acc"]) if epochs else 10)
        try:
            events = evaluate_checkpoint(
                run["id"], config, classes, run["test_acc"] or 0.0, checkpoint_path(ctx.obj.checkpoint_dir, run["id"]),
                eval_on, ctx.obj.data_dir, device,
            )  # fmt: skip
        except (CheckpointError, EvalSetError) as error:
            click.echo(f"run {run['id']}: {printable(str(error))}", err=True)
            continue
        with store.write():
            for event in events:
                record(store, event)
        figures = " · ".join(
            f"{e.label} {dict(e.summary)['acc']:.2f}% (gap {dict(e.summary)['gap']:+.2f})" for e in events
        )
        click.echo(f"run {run['id']}: {figures}")
        evaluated += 1
    sys.exit(0 if evaluated else 1)


@cli.command()
@worker_options
@click.pass_context
def worker(ctx: click.Context, **options) -> None:
    """Train queued runs without the app (for nohup, tmux or systemd); Ctrl-C cancels and stops.

    One device by default; every device of the box with --devices; a Ray cluster with --ray.
    (`python -m cifar_tui.tui.worker` starts the same worker without the command line.)"""
    sys.exit(start_worker(ctx.obj, **options))


def show_record(store: RunStore, run_id: int) -> dict[str, Any]:
    return run_document(existing_run(store, run_id), store.epochs(run_id))
