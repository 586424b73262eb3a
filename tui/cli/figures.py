"""Commands that draw: `plot` (one figure, PNG, SVG or PDF) and `report` (a page of them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from ...store.export import PLUS_MINUS
from ...store.run_filter import FilterError
from ..worker.errors import fail
from .browsing import filter_from_words
from .root import BadInput, cli, store_of

MATPLOTLIB_MISSING = "plot: matplotlib is not installed; pip install 'cifar-tui[plot]'"


def figure_options(command):
    """What `plot` and `report` share: a filter, groups, what a group's band is, the width."""
    for option in reversed(
        [
            click.option(
                "--group", "grouped", is_flag=True, help="One line per group (runs that differ only in seed)."
            ),
            click.option(
                "--plus-minus",
                type=click.Choice(list(PLUS_MINUS)),
                default="ci",
                show_default=True,
                help="A group's band and error bars: the 95% CI of its mean, the standard error, or the sample std.",
            ),
            click.option(
                "--width",
                "width_in",
                type=click.FloatRange(1.5, 20),
                default=3.4,
                show_default=True,
                help="The figure's width in inches (3.4: one column of a two-column paper).",
            ),
        ]
    ):
        command = option(command)
    return command


def output_option(words: str):
    return click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help=words)


@cli.command()
@click.argument("kind", type=click.Choice(["curves", "loss", "pareto", "confusion", "heldout", "search", "parallel"]))
@click.argument("filter_words", nargs=-1)
@figure_options
@output_option("The figure's file: .pdf, .svg (vector) or .png (300 dpi).")
@click.option(
    "--objective", default="test_acc", show_default=True, help="parallel: the result column that colours the lines."
)
@click.pass_context
def plot(ctx: click.Context, kind, filter_words, grouped, plus_minus, width_in, output, objective) -> None:
    """A figure of the runs a FILTER keeps (all runs without one), paper-ready: KIND is curves
    (test accuracy and loss per epoch), loss (batch loss, raw and smoothed), pareto (accuracy
    against training time), confusion (one run's or group's matrix), heldout (CIFAR-10.1,
    CIFAR-10-C by severity), search (FILTER: the search's name) or parallel (parallel coordinates
    of the runs' varying fields and --objective)."""
    from ..output_file import OutputFailed, OutputRefused, check_output, write_output

    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise BadInput(f"output: {output.name!r} is no .pdf, .svg or .png file name")
    try:
        check_output(ctx.obj, output)
    except OutputRefused as error:
        raise BadInput(str(error)) from None
    if importlib.util.find_spec("matplotlib") is None:
        fail(MATPLOTLIB_MISSING, 1)
    figure = draw(ctx, kind, filter_words, grouped, plus_minus, width_in, objective)
    from ..figures.style import rendered

    try:
        write_output(ctx.obj, output, rendered(figure, fmt))
    except OutputRefused as error:
        raise BadInput(str(error)) from None
    except OutputFailed as error:
        fail(str(error), 1)
    click.echo(f"wrote the {kind} figure to {output}", err=True)


def draw(
    ctx: click.Context,
    kind: str,
    words: tuple[str, ...],
    grouped: bool,
    plus_minus: str,
    width_in: float,
    objective: str,
):
    """The figure of one kind, or a one-line refusal (exit 2)."""
    from ..figures.entries import entries
    from ..figures.kinds import KINDS, FigureRefused, Options

    store = store_of(ctx)
    options = Options(width_in, plus_minus)
    function, _ = KINDS[kind]
    try:
        if kind == "search":
            if len(words) != 1:
                raise BadInput("search: plot search takes one search's name, like `cifar-tui plot search s3 -o s3.pdf`")
            return function(store, words[0], options)
        filter_text = filter_from_words(store, words)
        chosen = entries(store, filter_text, grouped)
        if not chosen:
            raise BadInput(f"runs: no run matches {' '.join(words)!r}; see `cifar-tui runs`")
        if kind == "parallel":
            from ...store.columns import better

            if better(objective) is None:
                raise BadInput(f"objective: {objective!r} is no result column (test_acc, seconds, cifar10.1_acc, …)")
            return function(store, chosen, options, objective)
        return function(store, chosen, options)
    except (FigureRefused, FilterError) as error:
        raise BadInput(str(error)) from None


@cli.command()
@click.argument("filter_words", nargs=-1)
@figure_options
@output_option("report.html (one self-contained file) or report.md (its figures in report_figures/ beside it).")
@click.pass_context
def report(ctx: click.Context, filter_words, grouped, plus_minus, width_in, output) -> None:
    """A report of the runs a FILTER keeps (all runs without one): their table, the config fields
    that differ, the figures, per-class accuracy, held-out sets, environments and any search's
    trials, as one HTML file to open anywhere or Markdown to paste into a repository."""
    from ..figures.report_content import report as make_report
    from ..figures.report_pages import html_page, markdown_page
    from ..output_file import OutputFailed, OutputRefused, check_output, write_output

    fmt = output.suffix.lower()
    if fmt not in (".html", ".htm", ".md"):
        raise BadInput(f"output: {output.name!r} is no .html or .md file name")
    folder = output.with_name(f"{output.stem}_figures")
    try:
        check_output(ctx.obj, output)
        check_output(ctx.obj, folder / "figure.svg")
    except OutputRefused as error:
        raise BadInput(str(error)) from None
    if importlib.util.find_spec("matplotlib") is None:
        fail(MATPLOTLIB_MISSING.replace("plot:", "report:"), 1)
    store = store_of(ctx)
    try:
        filter_text = filter_from_words(store, filter_words)
        if store.count(filter_text) == 0:
            raise BadInput(f"runs: no run matches {' '.join(filter_words)!r}; see `cifar-tui runs`")
        content = make_report(store, filter_text, grouped, plus_minus, width_in)
    except FilterError as error:
        raise BadInput(str(error)) from None
    try:
        if fmt == ".md":
            text, files = markdown_page(content, folder.name)
            if files:
                folder.mkdir(exist_ok=True)
            for name, data in files.items():
                write_output(ctx.obj, folder / name, data)
            write_output(ctx.obj, output, text)
            written = f"{output} and {len(files)} figures in {folder}"
        else:
            write_output(ctx.obj, output, html_page(content))
            written = str(output)
    except OutputRefused as error:
        raise BadInput(str(error)) from None
    except (OutputFailed, OSError) as error:
        fail(str(error) if isinstance(error, OutputFailed) else f"cannot write {folder}: {error.strerror}", 1)
    click.echo(f"wrote the report of {store.count(filter_text)} runs to {written}", err=True)
