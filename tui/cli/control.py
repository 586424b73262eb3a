"""Commands that steer runs already queued or running: cancel, pause, delete."""

from __future__ import annotations

import sys
import time

import click

from ...store.actions import cancel_run, delete_runs, existing_run
from ..safe_text import printable
from ..worker.errors import fail
from .root import RUN_ID, BadInput, cli, store_of


def outcome_of_cancel(store, run_id: int) -> str:
    """What became of a run asked to stop: its worker stops it at the next batch, or by force once
    the grace period is over (a hung forward); a worker that does neither is frozen or far away."""
    from ..worker.training_process import GRACE_S

    deadline = time.monotonic() + GRACE_S + 5
    while time.monotonic() < deadline:
        row = store.run(run_id)
        if row["status"] != "running":
            return f"run {run_id} {row['status']}" + (f": {printable(row['error'])}" if row["error"] else "")
        time.sleep(0.2)
    return (
        f"run {run_id} is still running after {GRACE_S + 5:.0f} s: its worker does not answer "
        "(stopped with Ctrl-Z, or on another machine); it stops the run when it goes on"
    )


@cli.command()
@click.argument("run_id", type=RUN_ID)
@click.pass_context
def cancel(ctx: click.Context, run_id: int) -> None:
    """Cancel a queued run, or ask the worker training a run (in any process) to stop it."""
    store = store_of(ctx)
    if cancel_run(store, run_id) == "cancelled":
        click.echo(f"run {run_id} cancelled")
    else:
        click.echo(f"run {run_id}: asked its worker ({store.run(run_id)['worker']}) to stop it…")
        click.echo(outcome_of_cancel(store, run_id))


@cli.command()
@click.argument("run_id", type=RUN_ID)
@click.option("--off", is_flag=True, help="Let a paused run go on.")
@click.pass_context
def pause(ctx: click.Context, run_id: int, off: bool) -> None:
    """Hold a running run at its next batch (in any process), or with --off let it go on."""
    store = store_of(ctx)
    row = existing_run(store, run_id)
    if not store.request_pause(run_id, not off):
        raise BadInput(f"run_id: run {run_id} is {row['status']}; only a running run pauses")
    click.echo(
        f"run {run_id}: its worker ({row['worker']}) " + ("lets it go on" if off else "holds it at its next batch")
    )


@cli.command()
@click.argument("run_ids", type=RUN_ID, nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask (scripts); without a terminal, --yes is required.")
@click.pass_context
def delete(ctx: click.Context, run_ids: tuple[int, ...], yes: bool) -> None:
    """Delete runs with their epochs, losses and checkpoints (not a running run)."""
    store = store_of(ctx)
    rows = [existing_run(store, run_id) for run_id in dict.fromkeys(run_ids)]
    running = [str(row["id"]) for row in rows if row["status"] == "running"]
    if running:
        raise BadInput(f"run_ids: run {', '.join(running)} is running; cancel it first (`cifar-tui cancel ID`)")
    if not yes:
        if not sys.stdin.isatty():
            raise BadInput("delete: asks before deleting; add --yes when no one is at a terminal")
        names = ", ".join(f"{row['id']} ({printable(row['name'])})" if row["name"] else str(row["id"]) for row in rows)
        click.confirm(f"Delete run {names} with its epochs, losses and checkpoints?", abort=True, err=True)
    deleted = delete_runs(store, [row["id"] for row in rows], ctx.obj.checkpoint_dir)
    click.echo(f"deleted run {', '.join(map(str, deleted))}", err=True)
    if len(deleted) < len(rows):
        fail("some runs started running meanwhile and were kept", 1)
