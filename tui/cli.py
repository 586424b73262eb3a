"""The `cifar-tui` command line: the app, and the same engine and store without it.

Exit status: 0 success, 1 a failed run or a runtime error, 2 bad input (one line on stderr).
torch is imported only by the commands that train, so the others start fast.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..engine.config import ConfigError, make_config
from ..engine.text import unprintable
from ..store.actions import cancel_run, delete_runs, existing_run, rename_run, set_note, tag_runs
from ..store.export import FORMATS, PLUS_MINUS
from ..store.runs import RESUMABLE, RunStore
from ..store.study import OBJECTIVES, PRUNERS, SEARCHES
from .config_flags import config_options
from .safe_text import printable
from .terminal_tables import people_rows, print_run, print_table, run_document
from .worker.command import start as start_worker
from .worker.command import worker_options
from .worker.errors import fail, log_error, one_line
from .worker.home import ENV_HOME, Home, default_home

SQLITE_MAX_INT = 2**63 - 1  # the largest integer a store's column (or a LIMIT) holds


class RunIdType(click.IntRange):
    """A run id; the shell completes the newest ones from the store."""

    def __init__(self) -> None:
        super().__init__(1, SQLITE_MAX_INT)  # a larger id is a typo, not an overflow

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        try:
            home = ctx.find_root().params.get("home") or os.environ.get(ENV_HOME)
            store = Home(Path(home).expanduser() if home else default_home()).store()
            rows = store.find(sort="-id", limit=200)
        except Exception:  # completion never prints an error into the user's command line
            return []
        return [
            CompletionItem(str(r["id"]), help=r["name"] or r["model"])
            for r in rows
            if str(r["id"]).startswith(incomplete)
        ]


RUN_ID = RunIdType()
SMALL_STORE = 100  # tui/bench/ui.py's baseline store
TABLE_ROWS = 100  # rows `cifar-tui runs` prints unless told otherwise


class BadInput(click.UsageError):
    """A user's mistake: exit status 2 and one line."""


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cifar-tui", prog_name="cifar-tui")
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar=ENV_HOME,
    help=f"Folder for runs.db and data/ (default: ${ENV_HOME} or the user data folder).",
)
@click.option(
    "--engine",
    type=click.Choice(["process", "thread"]),
    default="process",
    show_default=True,
    help="Where the app trains: a `cifar-tui worker` child process, or a thread of the app.",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None, engine: str) -> None:
    """A terminal experiment runner for CIFAR-10. With no command, opens the app."""
    if home is not None and not str(home).strip():
        raise BadInput("home: an empty path; give a folder, or leave --home out for the default")
    ctx.obj = Home((default_home() if home is None else Path(home)).expanduser())
    ctx.obj.start_log()
    if ctx.invoked_subcommand is None:
        from .app import CifarApp

        app = CifarApp(ctx.obj, engine=engine)
        app.run()
        if app.return_code:
            crash = getattr(app, "_exception", None)  # Textual keeps what stopped the app
            if crash is not None:
                log_error(crash)
            fail(f"the app stopped on an error; details in {ctx.obj.log_path}", app.return_code)


def sweep_values(flags: dict[str, Any]) -> dict[str, Any]:
    """The config flags given, each parsed: one value, a list, a range or an interval."""
    from ..engine.sweep import parse_value

    return {key: parse_value(key, value) for key, value in flags.items() if value is not None}


def config_from_flags(flags: dict[str, Any]):
    # Numbers arrive as text so that the config's validation names the field in every error.
    from ..engine.sweep import is_sweep

    preset = flags.pop("preset")
    values = sweep_values(flags)
    if is_sweep(values):
        raise BadInput("run trains one config; queue a sweep (lists, ranges) with `cifar-tui queue add`")
    return make_config(preset, **values)


def check_device(config) -> None:
    """The app's form asks the same of the devices its engine registered (engine/device_check.py)."""
    from ..engine.device import available_devices
    from ..engine.device_check import device_problem

    if problem := device_problem(config.device, config.compile, available_devices()):
        raise BadInput(": ".join(problem))


def store_of(ctx: click.Context) -> RunStore:
    return ctx.obj.store()


# ------------------------------------------------------------------ training


@cli.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON (show --json) instead of its id.")
@click.pass_context
def run(ctx: click.Context, as_json: bool, **flags: Any) -> None:
    """Train one run in the foreground and record it; prints its id (progress goes to stderr)."""
    from .worker.headless import train_in_foreground

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
    from ..engine.config import RunConfig
    from .worker.headless import train_in_foreground

    store = store_of(ctx)
    row = existing_run(store, run_id)
    if row["status"] not in RESUMABLE:
        owner = f" by {row['worker']}" if row["status"] == "running" else ""
        raise BadInput(
            f"run_id: run {run_id} is {row['status']}{owner}; only interrupted, failed or cancelled runs resume"
        )
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
    from ..engine.checkpoint import CheckpointError, checkpoint_path
    from ..engine.checkpoint_evaluation import evaluate_checkpoint
    from ..engine.cifar_classes import class_names
    from ..engine.config import RunConfig
    from ..engine.eval_sets import EvalSetError
    from ..store.recorder import record
    from ..store.run_filter import FilterError

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


def outcome_of_cancel(store, run_id: int) -> str:
    """What became of a run asked to stop: its worker stops it at the next batch, or by force once
    the grace period is over (a hung forward); a worker that does neither is frozen or far away."""
    from .worker.training_process import GRACE_S

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


@cli.command()
@worker_options
@click.pass_context
def worker(ctx: click.Context, **options) -> None:
    """Train queued runs without the app (for nohup, tmux or systemd); Ctrl-C cancels and stops.

    One device by default; every device of the box with --devices; a Ray cluster with --ray.
    (`python -m cifar_tui.tui.worker` starts the same worker without the command line.)"""
    sys.exit(start_worker(ctx.obj, **options))


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
@click.option("--objective", type=click.Choice(tuple(OBJECTIVES)), help="What a search optimises (default: test_acc).")
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
    from ..engine.sweep import MAX_RUNS, expand, is_sweep, load_sweep_file

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
    from ..store.study import StudySettings, grid_size, search_space

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
    from ..engine.device import available_devices
    from .worker.job_source import queued_for

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


# ------------------------------------------------------------------ browsing


def table_options(command: Callable) -> Callable:
    """What `runs` and `export` share: a filter, a sort, groups, the config columns."""
    for option in reversed(
        [
            click.argument("filter_words", nargs=-1),
            click.option("--sort", default="-id", show_default=True, help="A field; -field sorts descending."),
            click.option("--group", "grouped", is_flag=True, help="One row per group (runs that differ only in seed)."),
            click.option("--varying", is_flag=True, help="Only the config fields that differ among the runs."),
            click.option(
                "--target",
                type=float,
                help="With --group: a one-sided t-test of mean test acc. > X; each group's p-value (test_acc_p_value).",
            ),
            click.option(
                "--plus-minus",
                type=click.Choice(list(PLUS_MINUS)),
                default="std",
                show_default=True,
                help="With --group, in tables people read (terminal, md, latex): what ± is: the sample std, "
                "the standard error, or the 95% CI's half-width.",
            ),
        ]
    ):
        command = option(command)
    return command


def filter_from_words(store: RunStore, words: tuple[str, ...]) -> str:
    """The filter the words make; words that are all run ids (`export 3 4`) select those runs."""
    if words and all(word.isdigit() for word in words):
        ids = [int(word) for word in words]
        missing = sorted(set(ids) - {r["id"] for r in store.runs(ids)})
        if missing:
            raise BadInput(f"run_ids: no run with id {', '.join(map(str, missing))}; see `cifar-tui runs`")
        return f"id={','.join(words)}"
    return " ".join(words)


def table_rows(
    store: RunStore,
    filter_text: str,
    sort: str,
    grouped: bool,
    varying: bool,
    limit: int | None = None,
    target: float | None = None,
):
    from ..store.actions import ExportRequest, export_rows

    request = ExportRequest("groups" if grouped else "runs", "csv", filter_text, sort, varying, target, limit=limit)
    return export_rows(store, request)


@cli.command()
@table_options
@click.option(
    "--limit",
    type=click.IntRange(0, SQLITE_MAX_INT),
    help=f"At most this many rows (0: all; the table's default: {TABLE_ROWS}, --json's: all).",
)
@click.option("--columns", help="Comma-separated columns to show (any run column or config field).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list (every column) instead of a table.")
@click.pass_context
def runs(ctx: click.Context, filter_words, sort, grouped, varying, target, plus_minus, limit, columns, as_json) -> None:
    """The table of runs (newest first), or of groups; FILTER like `lr<0.01 status=finished tag:x`."""
    store = store_of(ctx)
    filter_text = filter_from_words(store, filter_words)
    if limit is None and not as_json:
        limit = TABLE_ROWS  # a terminal shows the newest; thousands of rows help no one there
    shown, rows = table_rows(store, filter_text, sort, grouped, varying or not as_json, limit or None, target)
    if as_json:
        if not grouped:
            shown = list(rows[0]) if rows else []
        click.echo(json.dumps([{c: r.get(c) for c in shown} for r in rows], indent=2, ensure_ascii=False))
        return
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        known = list(rows[0]) if rows else shown
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise BadInput(f"columns: unknown column {unknown[0]!r}; known: {', '.join(known)}")
        shown = wanted
    total = store.count(filter_text)
    title = f"{'Groups' if grouped else 'Runs'}: {len(rows):,} rows of {total:,} runs"
    if limit and len(rows) == limit and not grouped and total > limit:
        title += " (--limit 0 shows all)"
    from ..store.export import ENV_MARK, ENV_NOTE, PARTIAL_NOTE, any_partial, mixed_environments

    notes = [PARTIAL_NOTE] if any_partial(rows) else []
    notes += [ENV_NOTE.format(mark=ENV_MARK)] if any(map(mixed_environments, rows)) else []
    print_table(people_rows(shown, rows, plus_minus), title=title, note="\n".join(notes) or None)


@cli.command()
@click.argument("filters", nargs=-1, required=True)
@click.option("--measure", default="test_acc", show_default=True, help="The result compared (a run column).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@click.pass_context
def compare(ctx: click.Context, filters: tuple[str, ...], measure: str, as_json: bool) -> None:
    """Two or more sets of runs, each a FILTER ("lr=0.001 sweep=s3", "id=4,5,6"): each set's mean
    over its finished runs, and its difference from the first with a 95% CI and Welch's p-value."""
    from ..store.columns import MEASURES
    from ..store.comparison import compare_sets
    from ..store.export import format_value
    from ..store.run_filter import FilterError

    if len(filters) < 2:
        raise BadInput('filters: give two or more, one per set of runs (quote each: "lr=0.001 seed=0..4")')
    if measure not in MEASURES:
        raise BadInput(f"measure: {measure!r} is not one of {', '.join(MEASURES)}")
    try:
        rows = compare_sets(store_of(ctx), list(filters), measure)
    except FilterError as error:
        raise BadInput(str(error)) from None
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return

    def figure(value):
        return format_value(measure, value) if value is not None else ""

    shown = [
        {
            "set": printable(row["set"]),
            "n": row["n"],
            f"{measure} mean ± std": figure(row["mean"]) + (f" ± {figure(row['std'])}" if row["std"] else ""),
            "difference": figure(row.get("diff")),
            "95% CI": f"[{figure(row['ci_low'])}, {figure(row['ci_high'])}]" if row.get("ci_low") is not None else "",
            "p (Welch)": f"{row['p_value']:.4f}" if row.get("p_value") is not None else "",
        }
        for row in rows
    ]
    more = " (each set against the first)" if len(rows) > 2 else ""
    note = "difference: the set's mean minus the first's; blank below two finished runs a set"
    print_table(shown, title=f"{measure}: {len(rows)} sets{more}", note=note)
    if rows[0]["environment"]:
        from ..engine.environment import LABELS

        print_table(
            [
                {"field": LABELS[key], **{f"set {i}": row["environment"][key] for i, row in enumerate(rows, 1)}}
                for key in rows[0]["environment"]
            ],
            title="Environments differ",
        )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
def datasets(as_json: bool) -> None:
    """Every dataset a run can train on (--dataset NAME): its classes, image size and how to get it."""
    from ..engine.datasets import DATASETS

    rows = [
        {"name": s.name, "classes": s.classes, "images": s.images, "description": s.description, "get": s.get}
        for s in DATASETS.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        print_table(rows, title="Datasets")


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """Every model: the built-in ones (family, parameters with 10 outputs, input size), then the
    model files of recorded runs."""
    if ctx.invoked_subcommand is not None:
        return
    from ..engine.models import MODELS, parameter_count

    rows = [
        {
            "name": spec.name,
            "family": spec.family,
            "params": parameter_count(spec.name),
            "input_size": spec.input_size,
            "description": spec.description,
        }
        for spec in MODELS.values()
    ]
    store = store_of(ctx)
    rows += [
        {
            "name": seen["model"],
            "family": "your file",
            "params": seen["params"],
            "input_size": 32,
            "description": f"{seen['runs']} run{'s' if seen['runs'] != 1 else ''}, last {seen['last']} "
            f"(show {seen['last']} --source)",
        }
        for seen in store.user_models()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        print_table(
            [
                {
                    **row,
                    "params": f"{row['params']:,}" if row["params"] else "",
                    "input_size": f"{row['input_size']}x{row['input_size']}",
                }
                for row in rows
            ],
            title="Models (10 outputs)",
        )


@models.command("check")
@click.argument("model")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--batch-size", type=click.IntRange(1, 65_536), default=64, show_default=True)
@click.option(
    "--timeout",
    type=click.IntRange(1, 3600),
    default=60,
    show_default=True,
    help="Seconds before a hung model is stopped.",
)
def models_check(model: str, device: str, batch_size: int, timeout: int) -> None:
    """Build FILE.py:Class, run it on a batch, and print its parameters and speed; queues nothing."""
    from ..engine.model_check import check_model
    from .worker.training_process import ProcessDied, call_isolated

    config = make_config(model=model, device=device, batch_size=batch_size)
    check_device(config)
    try:
        result = call_isolated(
            check_model, config, timeout=timeout
        )  # a model that crashes takes only that process down
    except ProcessDied as error:
        fail(f"model: {config.model_label}: {error}", 1)
    if "error" in result:
        detail = result.pop("detail", "")
        for line in detail.splitlines():
            print(printable(line), file=sys.stderr)
        fail(result["error"], 1)
    print_table([{"field": k, "value": str(v)} for k, v in result.items()], title=f"Model {result['model']}")


@cli.command()
@click.argument("run_id", type=RUN_ID)
@click.option("--json", "as_json", is_flag=True, help="The run (runs --json's keys) with its epochs, as JSON.")
@click.option("--source", is_flag=True, help="Print the source of the run's own model file, as recorded.")
@click.pass_context
def show(ctx: click.Context, run_id: int, as_json: bool, source: bool) -> None:
    """One run's config, summary and per-epoch table."""
    store = store_of(ctx)
    if source:
        recorded = existing_run(store, run_id)["config"].get("model_source")
        if not recorded:
            raise BadInput(f"source: run {run_id} trains the built-in model {store.run(run_id)['model']}; no file")
        if sys.stdout.isatty():  # a terminal obeys control characters: show them instead
            recorded = "\n".join(printable(line) for line in recorded.splitlines()) + "\n"
        click.echo(recorded, nl=not recorded.endswith("\n"))  # into a file: the text exactly
        return
    if as_json:
        click.echo(json.dumps(show_record(store, run_id), indent=2, ensure_ascii=False))
        return
    print_run(existing_run(store, run_id), store.epochs(run_id))


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("items", nargs=-1, required=True)
@click.pass_context
def tag(ctx: click.Context, items: tuple[str, ...]) -> None:
    """Add (+name) and remove (-name) tags of runs: `cifar-tui tag 3 4 +baseline -old`."""
    changes = [item for item in items if item[:1] in "+-"]
    if words := [item for item in items if item[:1] not in "+-" and not item.isdigit()]:
        raise BadInput(f"tag: {words[0]!r} is not a run id; a tag is given as +name (adds) or -name (removes)")
    run_ids = [RUN_ID.convert(item, None, ctx) for item in items if item[:1] not in "+-"]
    if not run_ids or not changes:
        raise BadInput("tag: give run ids and +tag or -tag, like `cifar-tui tag 3 4 +baseline -old`")
    for run_id, tags in tag_runs(store_of(ctx), run_ids, changes).items():
        click.echo(f"run {run_id}: {', '.join(tags) or 'no tags'}", err=True)


@cli.command()
@click.argument("run_id", type=RUN_ID)
@click.argument("text")
@click.pass_context
def note(ctx: click.Context, run_id: int, text: str) -> None:
    """Set a run's note ("" clears it)."""
    click.echo(set_note(store_of(ctx), run_id, text), err=True)


@cli.command()
@click.argument("run_id", type=RUN_ID)
@click.argument("name")
@click.pass_context
def rename(ctx: click.Context, run_id: int, name: str) -> None:
    """Give a run another name."""
    click.echo(rename_run(store_of(ctx), run_id, name), err=True)


def check_text(field: str, text: str, limit: int) -> None:
    if problem := unprintable(text):
        raise BadInput(f"{field}: {problem}")
    if len(text) > limit:
        raise BadInput(f"{field}: at most {limit} characters (got {len(text)})")


@cli.command()
@table_options
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="csv", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
@click.option("--ids", help="Only these runs: comma-separated ids (the same as the filter id=3,4,5).")
@click.option("--history", is_flag=True, help="One row per epoch per run (csv or json).")
@click.option("--losses", is_flag=True, help="One row per step per run (csv or json).")
@click.option(
    "--robustness",
    is_flag=True,
    help="The robustness table: test acc., CIFAR-10.1 and its gap, CIFAR-10-C and its severities (runs or --group).",
)
@click.option("--every", type=click.IntRange(1, SQLITE_MAX_INT), default=1, help="With --losses: every K-th step.")
@click.pass_context
def export(
    ctx, filter_words, sort, grouped, varying, target, plus_minus, fmt, output, ids, history, losses, robustness, every
) -> None:
    """The run table (or groups, epochs, losses) of the runs a FILTER keeps, as csv, json, md or latex."""
    from ..store.actions import ExportRequest, export_text
    from .output_file import OutputFailed, OutputRefused, check_output, write_output

    if output is not None:
        if not output.name or output.is_dir():
            raise BadInput(f"output: {str(output) or repr('')} is a folder; give a file name (table.csv)")
        try:
            check_output(ctx.obj, output)  # before the store is read: a refusal costs nothing
        except OutputRefused as error:
            raise BadInput(str(error)) from None
    store = store_of(ctx)
    filter_text = filter_from_words(store, filter_words)
    if ids is not None:
        try:
            wanted = [int(i) for i in ids.split(",") if i.strip()]
        except ValueError:
            raise BadInput(f"ids: comma-separated run ids (got {ids!r})") from None
        missing = sorted(set(wanted) - {r["id"] for r in store.runs(wanted)})
        if missing or not wanted:
            raise BadInput(f"ids: no run with id {', '.join(map(str, missing)) or ids!r}; see `cifar-tui runs`")
        filter_text += f" id={','.join(map(str, wanted))}"
    kinds = [kind for kind, asked in (("history", history), ("losses", losses), ("robustness", robustness)) if asked]
    if len(kinds) > 1:
        raise BadInput(f"{kinds[-1]}: one table at a time; leave out --{kinds[0]}")
    kind = kinds[0] if kinds else "groups" if grouped else "runs"
    request = ExportRequest(kind, fmt, filter_text, sort, varying, target, plus_minus, every, grouped)
    text, count = export_text(store, request)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_output(ctx.obj, output, text)  # never onto the store; all or nothing
    except OutputRefused as error:
        raise BadInput(str(error)) from None
    except OutputFailed as error:
        fail(str(error), 1)
    click.echo(f"wrote {count} rows to {output}", err=True)


def show_record(store: RunStore, run_id: int) -> dict[str, Any]:
    return run_document(existing_run(store, run_id), store.epochs(run_id))


# ------------------------------------------------------------------ benchmarks


@cli.group(invoke_without_command=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--model", default="seed-cnn", show_default=True)
@click.option("--quick", is_flag=True, help="Fewer batches: under a minute on a laptop CPU.")
@click.pass_context
def bench(ctx: click.Context, device: str, model: str, quick: bool) -> None:
    """Images/s of the tutorial's pipeline, the engine, and the engine while recording.

    The last line printed is one JSON object.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..engine.models import MODELS
    from .bench.report import print_result
    from .bench.training import bench_training

    if model not in MODELS:
        raise BadInput(f"model: unknown model {model!r}; allowed: {', '.join(MODELS)}")
    config = make_config(device=device)  # validates the device's spelling
    check_device(config)
    print_result(bench_training(model, device, quick), f"Training speed: {model}")


@bench.command("store")
@click.option("--quick", is_flag=True, help="50 runs x 20,000 steps instead of 200 x 20,000.")
def bench_store_command(quick: bool) -> None:
    """Loss rows inserted per second, run listing and chart-curve query times."""
    from .bench.report import print_result
    from .bench.training import bench_store

    print_result(bench_store(quick), "Store at scale")


@bench.command("datasets")
@click.argument("names", nargs=-1, required=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--batches", type=click.IntRange(1, 100_000), default=150, show_default=True)
@click.pass_obj
def bench_datasets_command(home: Home, names: tuple[str, ...], device: str, batches: int) -> None:
    """Each dataset's load time and training speed (seed-cnn), against the first named:
    `cifar-tui bench datasets cifar10 cifar100 folder:PATH`."""
    from .bench.datasets import bench_datasets
    from .bench.report import print_result

    configs = [make_config(dataset=name, device=device) for name in names]  # each mistake in one line first
    check_device(configs[0])
    print_result(bench_datasets([c.dataset for c in configs], home.data_dir, device, batches), "Datasets")


@bench.command("search")
@click.option("--trials", type=click.IntRange(1, 1000), default=14, show_default=True)
@click.option("--batches", type=click.IntRange(1, 100_000), default=40, show_default=True, help="An epoch's batches.")
@click.option("--search", type=click.Choice(SEARCHES), default="tpe", show_default=True)
@click.option("--prune", type=click.Choice(PRUNERS), default="median", show_default=True)
def bench_search_command(trials: int, batches: int, search: str, prune: str) -> None:
    """A search against the full grid of the same space (synthetic data, CPU): each one's best
    test accuracy, epochs trained and time."""
    from .bench.report import print_result
    from .bench.search import bench_search

    print_result(bench_search(trials, batches, search, prune), "Search against the grid")


@bench.command("ui")
@click.option("--runs", type=click.IntRange(SMALL_STORE + 1, 100_000), default=10_000, show_default=True)
def bench_ui_command(runs: int) -> None:
    """The run table at scale: N runs x 3 epochs against 100, the same operations timed on both."""
    from .bench.report import print_result
    from .bench.ui import bench_ui

    print_result(bench_ui(runs), f"Run table at {runs:,} runs")


@bench.command("app")
@click.option("--device", default="auto", show_default=True)
@click.option("--engine", type=click.Choice(["process", "thread"]), default="process", show_default=True)
@click.option("--quick", is_flag=True, help="200 batches an epoch instead of 600.")
def bench_app_command(device: str, engine: str, quick: bool) -> None:
    """Training speed with the Live view open, against the same run without the app."""
    from .bench.report import print_result
    from .bench.training import bench_app

    check_device(make_config(device=device))
    print_result(bench_app(device, quick, engine), "Training under the app")


@bench.command("gpu")
@click.option("--device", default="auto", show_default=True, help="cuda, cuda:N (cpu runs what makes sense there).")
@click.option("--quick", is_flag=True, help="Fewer batches: about 90 s on an H100.")
@click.pass_obj
def bench_gpu_command(home: Home, device: str, quick: bool) -> None:
    """The CUDA path in one command: speed against the tutorial, CUDA graphs, logging overhead,
    graph-vs-eager losses, the memory pre-check, resume, and the speedrun on real CIFAR-10 when
    the home's data folder holds it. The last line is one JSON object."""
    from .bench.gpu import bench_gpu
    from .bench.report import print_result

    check_device(make_config(device=device))
    print_result(bench_gpu(device, quick, home.data_dir), "The GPU path")


@bench.command("scale")
@click.option(
    "--devices", help="The `worker --devices` list to compare with one worker (default: every GPU, or cpu,cpu)."
)
@click.option("--runs", type=click.IntRange(1, 1000), default=4, show_default=True)
@click.option("--batches", type=click.IntRange(1, 100_000), default=150, show_default=True, help="Batches per run.")
@click.option("--no-ray", is_flag=True, help="Leave Ray out.")
def bench_scale_command(devices: str | None, runs: int, batches: int, no_ray: bool) -> None:
    """The queue's wall time for N small runs: one worker, a worker per device, and Ray."""
    from ..engine.device import available_devices
    from .bench.report import print_result
    from .bench.scale import bench_scale
    from .worker.device_pool import DevicesError, expand_devices

    try:
        names = expand_devices(devices or "all", available_devices())
    except DevicesError as error:
        raise BadInput(str(error)) from None
    if len(names) == 1 and devices is None:
        names = names * 2  # one device: two runs share it (the CPU's cores split between them)
    for name in dict.fromkeys(names):
        check_device(make_config(device=name))
    print_result(bench_scale(",".join(names), runs, batches, not no_ray), f"The queue on {len(names)} devices")


# ------------------------------------------------------------------ entry point


def main(argv: list[str] | None = None) -> None:
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 locale shows odd names as escapes, never crashes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        status = cli.main(args=argv, prog_name="cifar-tui", standalone_mode=False)
    except click.exceptions.Abort:
        fail("interrupted", 130)
    except click.UsageError as error:
        fail(error.format_message(), 2)
    except click.ClickException as error:
        fail(error.format_message(), error.exit_code)
    except Exception as error:
        fail(*one_line(error))
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
