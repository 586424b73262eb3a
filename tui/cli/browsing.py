"""Commands that read the store: runs, compare, show, datasets, models, tags, notes, names, export."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ...engine.config import make_config
from ...store.actions import existing_run, plural, rename_run, set_note, tag_runs
from ...store.export import FORMATS, PLUS_MINUS
from ...store.runs import RunStore
from ..safe_text import printable
from ..terminal_tables import people_rows, print_run, print_table
from ..worker.errors import fail
from .root import RUN_ID, SQLITE_MAX_INT, TABLE_ROWS, BadInput, check_device, cli, store_of
from .training import show_record


def _finite_accuracy(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not 0 <= value <= 100:  # nan fails both comparisons
        raise click.BadParameter(f"a finite accuracy in percent, 0 to 100 (got {value:g})")
    return value


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
                callback=_finite_accuracy,
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
    from ...store.actions import ExportRequest, export_rows

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
@click.option(
    "--pareto",
    metavar="COL,COL",
    help="Only the finished runs on the Pareto front of these result columns (test_acc,seconds), each better its way.",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON list (every column) instead of a table.")
@click.pass_context
def runs(
    ctx: click.Context, filter_words, sort, grouped, varying, target, plus_minus, limit, columns, pareto, as_json
) -> None:
    """The table of runs (newest first), or of groups; FILTER like `lr<0.01 status=finished tag:x`."""
    store = store_of(ctx)
    filter_text = filter_from_words(store, filter_words)
    front_title = None
    if pareto is not None:
        from ...store.pareto import front_of_runs
        from ...store.run_filter import FilterError

        if grouped:
            raise BadInput("pareto: a front of runs; leave out --group")
        try:
            ids, drawn_from = front_of_runs(store, filter_text, [c.strip() for c in pareto.split(",") if c.strip()])
        except (ValueError, FilterError) as error:
            raise BadInput(str(error)) from None
        front_title = f"The Pareto front of {pareto}: {plural(len(ids))} of {drawn_from:,} finished"
        filter_text = f"{filter_text} id={','.join(map(str, ids)) or 0}"
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
    title = front_title or f"{'Groups' if grouped else 'Runs'}: {len(rows):,} rows of {total:,} runs"
    if limit and len(rows) == limit and not grouped and total > limit:
        title += " (--limit 0 shows all)"
    from ...store.export import ENV_MARK, ENV_NOTE, PARTIAL_NOTE, any_partial, mixed_environments

    notes = [PARTIAL_NOTE] if any_partial(rows) else []
    notes += [ENV_NOTE.format(mark=ENV_MARK)] if any(map(mixed_environments, rows)) else []
    print_table(people_rows(shown, rows, plus_minus), title=title, note="\n".join(notes) or None)


@cli.command()
@click.argument("filters", nargs=-1, required=True)
@click.option("--measure", default="test_acc", show_default=True, help="The result compared (a run column).")
@click.option(
    "--reference",
    metavar="PRESET",
    help="A row for the preset's published test accuracy (see `cifar-tui presets`), against the first set.",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@click.pass_context
def compare(ctx: click.Context, filters: tuple[str, ...], measure: str, reference: str | None, as_json: bool) -> None:
    """Two or more sets of runs, each a FILTER ("lr=0.001 sweep=s3", "id=4,5,6"): each set's mean
    over its finished runs, and its difference from the first with a 95% CI and Welch's p-value;
    with --reference, one set is enough."""
    from ...engine.presets import REFERENCES
    from ...store.columns import MEASURES
    from ...store.comparison import compare_sets
    from ...store.export import format_value
    from ...store.run_filter import FilterError

    if len(filters) < (1 if reference else 2):
        raise BadInput('filters: give two or more, one per set of runs (quote each: "lr=0.001 seed=0..4")')
    if measure not in MEASURES:
        raise BadInput(f"measure: {measure!r} is not one of {', '.join(MEASURES)}")
    if reference is not None and reference not in REFERENCES:
        raise BadInput(f"reference: {reference!r} is no preset with a published figure; known: {', '.join(REFERENCES)}")
    if reference is not None and measure != "test_acc":
        raise BadInput(
            f"reference: a preset's published figure is a test accuracy; compare --measure test_acc, not {measure}"
        )
    store = store_of(ctx)
    try:
        empty = [text for text in filters if store.count(text) == 0]
        rows = compare_sets(store, list(filters), measure, reference)
    except FilterError as error:
        raise BadInput(str(error)) from None
    if empty:
        verb = "matches" if len(empty) == 1 else "match"
        raise BadInput(f"filters: {', '.join(map(repr, empty))} {verb} no runs (cifar-tui runs FILTER lists a set)")
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
    note = "difference: the set's mean minus the first's; blank below two finished runs a set" + (
        "; the published row's p is a one-sample t-test of the first set's mean" if reference else ""
    )
    print_table(shown, title=f"{measure}: {len(rows)} sets{more}", note=note)
    if rows[0]["environment"]:
        from ...engine.environment import LABELS

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
    from ...engine.datasets import DATASETS

    rows = [
        {"name": s.name, "classes": s.classes, "images": s.images, "description": s.description, "get": s.get}
        for s in DATASETS.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        print_table(rows, title="Datasets")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON list (every figure) instead of a table.")
@click.pass_context
def presets(ctx: click.Context, as_json: bool) -> None:
    """Every preset's published test accuracy beside what its finished runs reached here: n, mean
    and 95% CI, the difference, whether the published figure lies in the CI, the GPUs and seconds;
    a run counts if it was made from the preset and changed no recipe field (seed, device and
    speed settings aside), per dataset it ran on (only the official files are compared)."""
    rows = store_of(ctx).ledger()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from ..preset_references import ledger_cells

    print_table([ledger_cells(row) for row in rows], title="Presets: published, and measured here")


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """Every model: the built-in ones (family, parameters with 10 outputs, input size), then the
    model files of recorded runs."""
    if ctx.invoked_subcommand is not None:
        return
    from ...engine.models import MODELS, parameter_count

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
    from ...engine.model_check import check_model
    from ..worker.training_process import ProcessDied, call_isolated

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
@click.option(
    "--optuna",
    "optuna_storage",
    metavar="STORAGE",
    help="Write the search FILTER names as an Optuna study for optuna-dashboard: an Optuna URL "
    "(sqlite:///s.db), a .db file, or a journal file (any other name).",
)
@click.option(
    "--tensorboard",
    "tensorboard_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the runs FILTER keeps as TensorBoard runs under this folder (`tensorboard --logdir` it).",
)
@click.option(
    "--mlflow",
    "mlflow_uri",
    metavar="URI",
    help="Write the runs FILTER keeps as MLflow runs: a tracking URI (sqlite:///mlflow.db) or an mlruns folder.",
)
@click.option(
    "--with-checkpoint",
    is_flag=True,
    help="With --mlflow: each run's last checkpoint as its artifact checkpoint/last.pt.",
)
@click.pass_context
def export(
    ctx,
    filter_words,
    sort,
    grouped,
    varying,
    target,
    plus_minus,
    fmt,
    output,
    ids,
    history,
    losses,
    robustness,
    every,
    optuna_storage,
    tensorboard_dir,
    mlflow_uri,
    with_checkpoint,
) -> None:
    """The run table (or groups, epochs, losses) of the runs a FILTER keeps, as csv, json, md or
    latex; or a search as an Optuna study (--optuna), or the runs as TensorBoard (--tensorboard) or MLflow runs (--mlflow)."""
    from ...store.actions import ExportRequest, export_text
    from ..output_file import OutputFailed, OutputRefused, check_output, write_output

    if with_checkpoint and mlflow_uri is None:
        raise BadInput("with-checkpoint: the checkpoint goes to MLflow; add --mlflow URI")
    if optuna_storage is not None:
        export_to_optuna(ctx, optuna_storage, filter_words)
        return
    if tensorboard_dir is not None:
        export_to_tensorboard(ctx, tensorboard_dir, filter_words)
        return
    if mlflow_uri is not None:
        export_to_mlflow(ctx, mlflow_uri, filter_words, with_checkpoint)
        return

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


def export_to_optuna(ctx: click.Context, storage_text: str, words: tuple[str, ...]) -> None:
    from ...engine.config import ConfigError
    from ...store.study import export_study
    from ..optuna_export import optuna_storage
    from ..output_file import OutputRefused

    if len(words) != 1:
        raise BadInput("search: --optuna takes one search's name, like `cifar-tui export --optuna s.db s3`")
    try:
        storage = optuna_storage(ctx.obj, storage_text)
    except OutputRefused as error:
        raise BadInput(str(error)) from None
    store = store_of(ctx)
    try:
        count = export_study(store.db, words[0], storage)
    except ConfigError as error:
        raise BadInput(str(error)) from None
    except Exception as error:  # Optuna's storage (SQLAlchemy, a journal file) refused it
        fail(f"optuna: cannot write the study to {storage_text}: {first_line(error)}", 1)
    click.echo(f"wrote search {words[0]} ({count} trials) to {storage_text} as an Optuna study", err=True)


def exported_runs(ctx: click.Context, words: tuple[str, ...]) -> tuple[RunStore, list[dict[str, Any]]]:
    """The store and the runs a FILTER keeps, each whole (its config parsed); none is a mistake."""
    store = store_of(ctx)
    runs = store.find(filter_from_words(store, words))
    if not runs:
        raise BadInput(f"runs: no run matches {' '.join(words)!r}; see `cifar-tui runs`")
    return store, [store.run(row["id"]) for row in runs]


def export_to_tensorboard(ctx: click.Context, folder: Path, words: tuple[str, ...]) -> None:
    from ..output_file import OutputRefused, check_output
    from ..tensorboard_export import TensorBoardMissing, export_tensorboard

    try:
        check_output(ctx.obj, folder / "events")  # a folder inside the home's checkpoints is refused
    except OutputRefused as error:
        raise BadInput(str(error)) from None
    store, runs = exported_runs(ctx, words)
    try:
        count = export_tensorboard(store, runs, folder)
    except TensorBoardMissing as error:
        fail(str(error), 1)
    click.echo(
        f"wrote {plural(len(runs))} ({count:,} scalars) to {folder}; `tensorboard --logdir {folder}` shows them",
        err=True,
    )


def export_to_mlflow(ctx: click.Context, uri: str, words: tuple[str, ...], with_checkpoint: bool = False) -> None:
    from ..mlflow_export import MlflowMissing, export_mlflow
    from ..output_file import OutputRefused, check_output

    if uri.startswith("sqlite:///") or "://" not in uri:
        try:
            check_output(ctx.obj, Path(uri.removeprefix("sqlite:///") or "."))
        except OutputRefused as error:
            raise BadInput(str(error)) from None
    store, runs = exported_runs(ctx, words)
    try:
        created, updated = export_mlflow(store, runs, uri, ctx.obj.checkpoint_dir if with_checkpoint else None)
    except MlflowMissing as error:
        fail(str(error), 1)
    except Exception as error:  # the tracking store refused it (a bad URI, a server that is down)
        fail(f"mlflow: cannot write to {uri}: {first_line(error)}", 1)
    click.echo(f"wrote {plural(len(runs))} to {uri} (experiment cifar-tui): {created} new, {updated} updated", err=True)


def first_line(error: BaseException) -> str:
    """A library's error in one line: its first, without SQLAlchemy's "(Background on …)" note."""
    text = str(error).split("(Background on", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return printable(lines[0] if lines else type(error).__name__)[:300]
