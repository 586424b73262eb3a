"""Commands that say what a set of runs shows: importance (which config fields mattered)."""

from __future__ import annotations

import json

import click

from ...store.actions import plural
from ...store.run_filter import FilterError
from ..safe_text import printable
from ..terminal_tables import print_table
from .browsing import filter_from_words
from .root import BadInput, cli, store_of

BAR = 24  # the widest importance bar, in characters


@cli.command()
@click.argument("filter_words", nargs=-1)
@click.option(
    "--objective", default="test_acc", show_default=True, help="A result column: test_acc, seconds, cifar10.1_acc, …"
)
@click.option(
    "--evaluator",
    type=click.Choice(["fanova", "ped-anova"]),
    default="fanova",
    show_default=True,
    help="Optuna's fANOVA (variance explained), or PED-ANOVA (what sets the best runs apart).",
)
@click.option("--json", "as_json", is_flag=True, help="The importances, runs used and left out as JSON.")
@click.pass_context
def importance(ctx: click.Context, filter_words, objective: str, evaluator: str, as_json: bool) -> None:
    """Each config field's importance for an objective over the finished runs a FILTER keeps (a
    sweep, a search, any filter), by Optuna's own evaluators; the fields sum to 1."""
    from ...store.importance import ImportanceError
    from ...store.importance import importance as measure

    store = store_of(ctx)
    try:
        found = measure(store, filter_from_words(store, filter_words), objective, evaluator)
    except (ImportanceError, FilterError) as error:
        raise BadInput(str(error)) from None
    if as_json:
        keys = ("objective", "evaluator", "used", "left_out", "note")
        click.echo(
            json.dumps(
                {**{k: getattr(found, k) for k in keys}, "importances": found.fields, "scales": found.scales}, indent=2
            )
        )
        return
    top = max(found.fields.values(), default=0) or 1
    rows = [
        {
            "field": printable(field),
            "read as": found.scales[field],
            "importance": f"{value:.3f}",
            "": "█" * round(BAR * value / top),
        }
        for field, value in found.fields.items()
    ]
    words = {"fanova": "fANOVA", "ped-anova": "PED-ANOVA"}[evaluator]
    title = f"{objective}: importance by Optuna's {words}, from {found.used} finished runs"
    note = f"{plural(found.left_out)} left out (not finished, or no {objective})" if found.left_out else None
    print_table(rows, title=title, note=note)
    if found.note:
        click.echo(f"note: {found.note}", err=True)
