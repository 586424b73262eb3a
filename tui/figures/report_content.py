"""What a report holds (`cifar-tui report`), whatever page it becomes (report_pages.py): the run
or group table, the config fields that differ, the figures, per-class accuracy, the held-out
and robustness table, each run's environment and what differs, and a search's trials. Tables
are cells as people read them (the exports' own headers, rounding and ± words)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...store.runs import RunStore
from .entries import Entry, entries
from .kinds import KINDS, FigureRefused, Options

CONFUSIONS = 4  # confusion matrices in a report, at most (the first entries')


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class Drawn:
    name: str  # a file name's stem where it is written beside a page: curves, confusion-3
    caption: str
    figure: Any  # a matplotlib Figure


@dataclass
class Section:
    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Drawn] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # paragraphs: what is missing and why


@dataclass
class Report:
    title: str
    summary: str
    sections: list[Section]


def report(store: RunStore, filter_text: str, grouped: bool, plus_minus: str, width_in: float) -> Report:
    """The report of the runs (or groups) a filter keeps; an empty selection is the caller's to refuse."""
    chosen = entries(store, filter_text, grouped)
    options = Options(width_in, plus_minus)
    runs = store.find(filter_text, sort="+id")
    shown = f"runs matching {filter_text!r}" if filter_text.strip() else "every run"
    kind = "groups" if grouped else "runs"
    summary = f"{len(runs)} runs ({shown}), as {len(chosen)} {kind}; ± is the {_plus_minus_words(plus_minus)}."
    sections = [
        _run_table(store, filter_text, grouped, plus_minus),
        _differing(store, filter_text),
        _figures(store, chosen, options),
        _per_class(store, chosen),
        _held_out(store, filter_text, grouped, plus_minus),
        _environments(store, chosen),
        *_searches(store, runs, options),
    ]
    return Report(f"cifar-tui report: {shown}", summary, [s for s in sections if s.tables or s.figures or s.words])


def _plus_minus_words(plus_minus: str) -> str:
    return {"std": "sample standard deviation", "sem": "standard error", "ci": "95% CI's half-width"}[plus_minus]


def _people_table(columns: list[str], rows: list[dict[str, Any]], plus_minus: str, note: str = "") -> Table:
    from ..terminal_tables import people_rows

    people = people_rows(columns, rows, plus_minus)
    headers = list(people[0]) if people else []
    return Table(headers, [[str(row[h]) for h in headers] for row in people], note)


def _run_table(store: RunStore, filter_text: str, grouped: bool, plus_minus: str) -> Section:
    from ...store.actions import ExportRequest, export_rows
    from ...store.export import ENV_MARK, ENV_NOTE, PARTIAL_NOTE, any_partial, mixed_environments

    request = ExportRequest("groups" if grouped else "runs", "md", filter_text, "+id", True, plus_minus=plus_minus)
    columns, rows = export_rows(store, request)
    notes = [PARTIAL_NOTE] if any_partial(rows) else []
    notes += [ENV_NOTE.format(mark=ENV_MARK)] if any(map(mixed_environments, rows)) else []
    return Section("Groups" if grouped else "Runs", [_people_table(columns, rows, plus_minus, "\n".join(notes))])


def _differing(store: RunStore, filter_text: str) -> Section:
    fields = store.varying_fields(filter_text)
    section = Section("Config fields that differ")
    if not fields:
        section.words.append("None: every run has the same config.")
        return section
    configs = store.configs([r["id"] for r in store.find(filter_text)])
    rows = []
    for name in fields:
        values = sorted({json.dumps(c.get(name), sort_keys=True) for c in configs.values()})
        rows.append([name, str(len(values)), ", ".join(_plain(json.loads(v)) for v in values)])
    section.tables.append(Table(["field", "values", "taken"], rows))
    return section


def _plain(value: Any) -> str:
    return "(unset)" if value is None else (value or '""') if isinstance(value, str) else json.dumps(value)


def _figures(store: RunStore, chosen: list[Entry], options: Options) -> Section:
    section = Section("Figures")
    captions = {
        "curves": "Test accuracy and test loss at each epoch.",
        "loss": "The batch loss at each step: raw (faint) and smoothed.",
        "pareto": "Final test accuracy against training time; the Pareto front ringed.",
        "heldout": "Held-out sets' accuracy beside the test set's; corruptions by severity.",
    }
    for name, caption in captions.items():
        try:
            section.figures.append(Drawn(name, caption, KINDS[name][0](store, chosen, options)))
        except FigureRefused as error:
            if name != "heldout":  # held-out sets are an option: their absence is no news
                section.words.append(f"No {name} figure: {error}.")
    with_matrix = []
    for entry in chosen:
        try:
            figure = KINDS["confusion"][0](store, [entry], options)
        except FigureRefused:
            continue
        with_matrix.append(Drawn(f"confusion-{entry.run_ids[0]}", f"Confusion matrix: {entry.label}.", figure))
        if len(with_matrix) == CONFUSIONS:
            break
    section.figures += with_matrix
    if len(chosen) > CONFUSIONS and len(with_matrix) == CONFUSIONS:
        section.words.append(
            f"Confusion matrices of the first {CONFUSIONS} only; `cifar-tui plot confusion id=N` draws any."
        )
    return section


def _per_class(store: RunStore, chosen: list[Entry]) -> Section:
    """Each entry's last epoch's accuracy per class (a group's: the mean over its finished runs)."""
    section = Section("Per-class accuracy (%)")
    names: list[str] = []
    rows = []
    for entry in chosen:
        accuracies = []
        for run_id in entry.finished if entry.grouped else entry.run_ids:
            epochs = [e for e in store.epochs(run_id) if e.get("class_acc")]
            if epochs:
                accuracies.append(epochs[-1]["class_acc"])
                names = names or list(store.run(run_id)["classes"] or [])
        if accuracies and len({len(a) for a in accuracies}) == 1:
            means = [sum(column) / len(column) for column in zip(*accuracies)]
            rows.append([entry.label, *(f"{m:.1f}" for m in means)])
    if rows:
        classes = len(rows[0]) - 1
        names = names if len(names) == classes else [str(i) for i in range(classes)]
        section.tables.append(Table(["run" if not chosen[0].grouped else "group", *names], rows, "the last epoch's"))
    return section


def _held_out(store: RunStore, filter_text: str, grouped: bool, plus_minus: str) -> Section:
    from ...store.export import robustness_table

    section = Section("Held-out sets and robustness")
    if not any(r.get("evals") for r in store.find(filter_text)):
        return section
    columns, rows = robustness_table(store, filter_text, "+id", grouped)
    section.tables.append(_people_table(columns, rows, plus_minus))
    return section


def _environments(store: RunStore, chosen: list[Entry]) -> Section:
    """What every run ran on, and each field in which runs (or groups) differ."""
    from ...engine.environment import LABELS
    from ...store.comparison import environment_differences

    section = Section("Environments")
    sets = [[r for r in store.runs(list(e.run_ids)) if r.get("environment")] for e in chosen]
    if not any(sets):
        section.words.append("No run recorded its environment.")
        return section
    differing = environment_differences(sets)
    first = next(r for runs in sets for r in runs)["environment"]
    same = [[LABELS[k], str(v)] for k, v in first.items() if k in LABELS and k not in differing]
    if same:
        section.tables.append(Table(["field", "every run's"], same))
    if differing:
        headers = ["run" if not chosen[0].grouped else "group", *(LABELS[k] for k in differing)]
        rows = [[e.label, *(differing[k][i] or "(not recorded)" for k in differing)] for i, e in enumerate(chosen)]
        section.tables.append(Table(headers, rows, "the fields in which they differ"))
    return section


def _searches(store: RunStore, runs: list[dict[str, Any]], options: Options) -> list[Section]:
    """A section per search whose trials are among the runs: its figure and its trials."""
    from ...store.study import outcomes

    sweeps = sorted({r["sweep"] for r in runs if r.get("sweep")})
    marks = ", ".join("?" * len(sweeps))
    studies = [row[0] for row in store.db.execute(f"SELECT name FROM studies WHERE name IN ({marks})", sweeps)]
    sections = []
    for name in studies:
        section = Section(f"Search {name}")
        try:
            section.figures.append(
                Drawn(f"search-{name}", f"Search {name}: its trials.", KINDS["search"][0](store, name, options))
            )
        except FigureRefused as error:
            section.words.append(f"No figure: {error}.")
        trials = outcomes(store.db, name)
        fields = list(trials[0]["point"]) if trials else []
        rows = [
            [
                str(t["number"]),
                t["status"],
                *(_plain(t["point"][f]) for f in fields),
                ", ".join(f"{v:.4g}" for v in t["values"]),
            ]
            for t in trials
        ]
        if rows:
            section.tables.append(
                Table(["trial", "status", *fields, "objective"], rows, "a pruned trial: its last value")
            )
        sections.append(section)
    return sections
