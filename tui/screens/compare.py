"""Compare runs, or groups of runs (seeds of one config): overlaid loss and accuracy curves (a
group's are the means over its runs), the config fields that differ, the results (a group's as
mean ± std over its finished runs)."""

from __future__ import annotations

import difflib
import statistics

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from ...engine.cifar_classes import class_names
from ...engine.environment import LABELS
from ...engine.user_model import source_hash
from ...store.columns import MEANS, MEASURES, RESULTS, eval_columns
from ...store.comparison import environment_differences
from ...store.confidence import difference
from ...store.export import decimals_of, for_people, format_value
from ..safe_text import plain, printable
from ..widgets.epoch_panels import confusion_matrix
from ..widgets.loss_chart import LossChart, Series, smooth
from ..widgets.search_charts import search_charts

COLORS = ["cyan", "magenta", "green", "yellow", "red", "blue", "orange", "white"]
MATRICES = 3  # confusion matrices side by side (48 columns each)
DIFF_LINES = 12  # of a source diff, per compared run
WIDE = 140  # columns from which the accuracy-against-time chart joins the two curves


def short_hash(source: str) -> str:
    return source_hash(source) if source else "built-in"


def source_diff(first: tuple[str, str], other: tuple[str, str], max_lines: int = DIFF_LINES) -> list[str]:
    """A short unified diff of two runs' model sources ((label, source) each)."""
    lines = list(
        difflib.unified_diff(
            first[1].splitlines(), other[1].splitlines(), fromfile=first[0], tofile=other[0], lineterm="", n=1
        )
    )
    return lines[:max_lines] + (
        [f"… {len(lines) - max_lines} more lines (show --source prints each)"] if len(lines) > max_lines else []
    )


def summary(key: str, runs: list[dict], group: dict | None = None) -> str:
    """One run's value, or a group's as the store's groups give it (store/groups.py): mean ± std
    over its finished runs, or the mean; its statuses counted."""
    if len(runs) == 1:
        return format_value(key, runs[0][key])
    if key == "status":
        counts = {s: sum(r["status"] == s for r in runs) for s in dict.fromkeys(r["status"] for r in runs)}
        return ", ".join(f"{n} {s}" for s, n in counts.items())
    if group is not None and key in MEASURES:
        mean, std = group[f"{key}_mean"], group[f"{key}_std"]
        return format_value(key, mean) + (f" ± {format_value(key, std)}" if mean is not None and std else "")
    if group is not None and key in MEANS:
        return format_value(key, group[key])
    values = {r[key] for r in runs if r["status"] == "finished" and r[key] is not None}  # epochs done
    return format_value(key, values.pop()) if len(values) == 1 else ", ".join(map(str, sorted(values)))


def held_out_summary(column: str, runs: list[dict]) -> str:
    """A held-out set's figure (cifar10.1_acc): one run's, or mean ± std over a group's finished runs."""
    values = [
        value
        for run in runs
        if run["status"] == "finished" or len(runs) == 1
        if (value := eval_columns(run.get("evals")).get(column)) is not None
    ]
    if len(values) < 2:
        return format_value(column, values[0] if values else None)
    std = statistics.stdev(values)
    return f"{format_value(column, statistics.fmean(values))} ± {format_value(column, std)}"


def held_out_columns(entries: list[tuple[str, list[dict]]]) -> list[str]:
    """The held-out sets' accuracy and gap columns any compared run has, sets in name order."""
    found = {c: None for _, runs in entries for run in runs for c in eval_columns(run.get("evals")) if for_people(c)}
    return list(found)


def difference_cells(key: str, members: list[list[dict]]) -> list[str]:
    """Each group's mean minus the first's over their finished runs, with the difference's 95%
    CI and Welch's p-value; blank below two finished runs on either side."""
    samples = [[r[key] for r in runs if r["status"] == "finished" and r[key] is not None] for runs in members]
    places = decimals_of(key) or 2
    cells = ["(the first)"]
    for values in samples[1:]:
        found = difference(samples[0], values)
        text = "" if found is None else f"{found['diff']:+.{places}f}"
        if found is not None and found["ci_low"] is not None:
            text += f" [{found['ci_low']:+.{places}f}, {found['ci_high']:+.{places}f}] p={found['p_value']:.3g}"
        cells.append(text)
    return cells


def entry_label(runs: list[dict], differing: list[str]) -> str:
    """A run: its id and name. A group: what sets it apart (the differing fields) and its size."""
    first = runs[0]
    if len(runs) == 1:
        return f"{first['id']} {first['name'] or first['model']}"
    apart = " ".join(f"{key}={first['config'].get(key)}" for key in differing[:3]) or first["model"]
    return f"{apart} (n={len(runs)})"


class CompareScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("o", "next_objective", "Objective"),
        Binding("x", "hide_axis", "Hide an axis"),
    ]
    OBJECTIVES = ("test_acc", "test_loss", "seconds")  # what `o` steps through (and held-out sets' accuracies)

    def show_insight(self) -> None:
        """Parallel coordinates of the compared runs for the chosen objective, and each varying
        field's importance for it (Optuna's fANOVA over the finished ones)."""
        from ..widgets.parallel_coordinates import draw, from_runs

        ids = [run_id for ids in self.members for run_id in ids]
        row = self.query_one("#compare-insight", Horizontal)
        found = from_runs(self.app.store, ids, self.objective, self.hidden) if len(ids) > 2 else None
        row.display = found is not None or bool(self.hidden)
        if not row.display:
            return
        chart = self.query_one("#compare-parallel", Static)
        if found is None:
            chart.update(Text(f"every varying field is hidden; x shows them again ({', '.join(sorted(self.hidden))})"))
        else:
            width = max(30, chart.content_size.width or (self.app.size.width - 8) * 3 // 5)
            title = Text(
                f"parallel coordinates · {self.objective} (o: next objective · x: hide an axis)\n", style="bold"
            )
            if self.hidden:
                title.append(f"hidden: {', '.join(sorted(self.hidden))}\n", style="dim")
            height = 12 if self.app.size.height >= 40 else 8
            chart.update(title + draw(*found, width=width, height=height, objective=self.objective))
        self.query_one("#compare-importance", Static).update(self.importance_text(ids))

    def importance_text(self, ids: list[int]) -> Text:
        from ...store.importance import ImportanceError, importance

        text = Text(f"importance for {self.objective}\n", style="bold")
        try:
            found = importance(self.app.store, f"id={','.join(map(str, ids))}", self.objective)
        except ImportanceError as error:
            return text + Text(str(error).removeprefix("importance: "), style="dim")
        top = max(found.fields.values(), default=0) or 1
        room = self.query_one("#compare-importance", Static).content_size.width or 30
        name, bar = (12, max(3, room - 20)) if room < 40 else (16, 16)
        for field, value in found.fields.items():
            text.append(f"{printable(field)[:name]:<{name}} {value:5.3f} ")
            text.append("█" * round(bar * value / top) + "\n", style="#21918c")
        text.append(f"fANOVA (Optuna), {found.used} finished runs", style="dim")
        if found.note:
            text.append("\n" + found.note, style="yellow")
        return text

    def show_front(self, entries: list[tuple[str, list[dict]]], groups_of: list[dict | None]) -> None:
        """Each compared run's (a group's mean) final test accuracy against its training time, a
        point each in its colour, and the Pareto front through the best trades (store/pareto.py)."""
        from ...store.pareto import pareto_front

        points = []
        for index, ((label, runs), group) in enumerate(zip(entries, groups_of)):
            if group is not None:
                acc, seconds = group["test_acc_mean"], group["seconds"]
            else:
                acc, seconds = (
                    (runs[0]["test_acc"], runs[0]["seconds"]) if runs[0]["status"] == "finished" else (None, None)
                )
            if acc is not None and seconds is not None:
                points.append((label, seconds, acc, COLORS[index % len(COLORS)]))
        chart = self.query_one("#compare-front", LossChart)
        chart.display = len(points) > 1 and self.app.size.width >= WIDE  # a third chart fits a wide terminal only
        front = sorted(
            (points[i][1], points[i][2])
            for i in pareto_front([(a, s) for _, s, a, _ in points], ["maximize", "minimize"])
        )
        series = [Series(label, [x], [y], colour, marker="point") for label, x, y, colour in points]
        chart.show([*series, Series("Pareto front", [x for x, _ in front], [y for _, y in front], "white")])

    def action_next_objective(self) -> None:
        choices = list(self.OBJECTIVES) + [c for c in self.held_out if c not in self.OBJECTIVES]
        self.objective = (
            choices[(choices.index(self.objective) + 1) % len(choices)] if self.objective in choices else choices[0]
        )
        self.show_insight()

    def action_hide_axis(self) -> None:
        """Hide the next varying field's axis; past the last, show them all again."""
        fields = [
            f
            for f in self.app.store.varying_fields_of([i for ids in self.members for i in ids])
            if f not in ("name", "preset", "model_source")
        ]
        shown = [f for f in fields if f not in self.hidden]
        if shown and len(shown) > 1:
            self.hidden = self.hidden | {shown[0]}
        else:
            self.hidden = set()
        self.show_insight()

    def show_confusions(self, entries: list[tuple[str, list[dict]]]) -> None:
        """The last epoch's confusion matrix of the first three compared (a group's: summed)."""
        row = self.query_one("#compare-confusions", Horizontal)
        shown = 0
        for index, (label, runs) in enumerate(entries[:MATRICES]):
            counts, names = None, ()
            for run in runs:
                epochs = self.app.store.epochs(run["id"])
                if epochs and epochs[-1].get("confusion"):
                    last = epochs[-1]["confusion"]
                    if counts is None:
                        counts, names = last, class_names(run.get("classes"), len(epochs[-1]["class_acc"]))
                    elif len(last) == len(counts):  # a group's runs share their dataset
                        counts = [a + b for a, b in zip(counts, last)]
            if counts is not None:
                matrix = confusion_matrix(counts, len(epochs), names)
                text = Text(label + "\n", style=COLORS[index % len(COLORS)]) + matrix
                row.mount(Static(text, classes="compare-confusion"))
                shown += 1
        row.display = shown > 0

    def show_search(self, members: list[list[dict]]) -> bool:
        """When every compared run is a trial of one search: its best-so-far curve and its
        objective against each searched field (all of the search's ended trials). Whether it did."""
        from ...store import study

        row = self.query_one("#compare-search", Horizontal)
        sweeps = {run.get("sweep") for runs in members for run in runs}
        settings = study.settings_of(self.app.store.db, sweeps.pop()) if len(sweeps) == 1 else None
        row.display = settings is not None
        if settings is None:
            return False
        db, name = self.app.store.db, settings["name"]
        for title, xlabel, series in search_charts(settings, study.outcomes(db, name), study.best_so_far(db, name)):
            chart = LossChart(title=printable(title), xlabel=printable(xlabel), classes="compare-search-chart")
            row.mount(chart)
            chart.show(series)
        return True

    def group_of(self, runs: list[dict]) -> dict | None:
        """The store's statistics of a group's runs; None for a single run."""
        if len(runs) == 1:
            return None
        groups = self.app.store.groups(f"id={','.join(str(run['id']) for run in runs)}")
        return groups[0] if len(groups) == 1 else None

    def show_source_diff(self, entries: list[tuple[str, list[dict]]]) -> None:
        """How the model sources differ from the first's, when they do (user model files)."""
        sources = [(label, runs[0]["config"].get("model_source", "")) for label, runs in entries]
        text = Text()
        for other in sources[1:]:
            if other[1] != sources[0][1] and (other[1] or sources[0][1]):
                for line in source_diff(sources[0], other):
                    style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1], "")
                    text.append(printable(line) + "\n", style=style if not line.startswith(("+++", "---")) else "bold")
        widget = self.query_one("#compare-source-diff", Static)
        widget.update(Text("model source differs\n", style="bold") + text if text else "")
        widget.display = bool(text)

    def __init__(self, run_ids: list[int] | None = None, groups: list[list[int]] | None = None):
        """Compare runs (run_ids), or groups (each a list of run ids)."""
        super().__init__()
        self.members = groups if groups is not None else [[run_id] for run_id in run_ids or []]
        self.objective, self.hidden, self.held_out = "test_acc", set(), []

    def compose(self) -> ComposeResult:
        with Vertical(classes="panel"):
            yield Static("", id="compare-title")
            with Horizontal(id="compare-charts"):
                yield LossChart(title="batch loss (smoothed)", id="compare-loss")
                yield LossChart(title="test accuracy %", xlabel="epoch", min_span=10, id="compare-acc")
                yield LossChart(title="test acc % by time (white: front)", xlabel="seconds", id="compare-front")
            yield Horizontal(id="compare-search")
            with Horizontal(id="compare-insight"):
                yield Static("", id="compare-parallel")
                yield Static("", id="compare-importance")
            yield Horizontal(id="compare-confusions")
            yield DataTable(id="compare-table", cursor_type="none", zebra_stripes=True)
            yield Static("", id="compare-source-diff")
        yield Footer()

    def on_mount(self) -> None:
        store = self.app.store
        members = [[run for run in map(store.run, ids) if run is not None] for ids in self.members]
        members = [runs for runs in members if runs]
        what = "groups" if any(len(runs) > 1 for runs in members) else "runs"
        differing = store.varying_fields_of([runs[0]["id"] for runs in members])
        if what == "groups":  # within a group these differ anyway
            differing = [key for key in differing if key not in ("seed", "name")]
        entries = [(printable(entry_label(runs, differing)), runs) for runs in members]
        environments = environment_differences(members)  # our own labels: safe as markup
        differ = ", ".join(LABELS[key] for key in environments)
        self.query_one("#compare-title", Static).update(
            f"[b]Comparing {len(entries)} {what}[/b] · config fields that differ: {', '.join(differing) or 'none'}"
            + (f" · [yellow]environments differ: {differ}[/]" if environments else "")
        )
        loss_series, acc_series = [], []
        for index, (label, runs) in enumerate(entries):
            color = COLORS[index % len(COLORS)]
            ids = [run["id"] for run in runs]
            curve = store.mean_loss_curve(ids, max_points=500)
            loss_series.append(Series(label, [p[0] for p in curve], smooth([p[1] for p in curve]), color))
            accs = store.mean_test_acc(ids)
            acc_series.append(Series(label, [a[0] for a in accs], [a[1] for a in accs], color))
        if not self.show_search(members):  # a search's charts take the confusion matrices' place
            self.show_confusions(entries)
        else:
            self.query_one("#compare-confusions", Horizontal).display = False
        self.held_out = [c for c in held_out_columns(entries) if c.endswith("_acc")]
        self.call_after_refresh(self.show_insight)  # once laid out: drawn to the panel's width (fANOVA once)
        self.show_front(entries, groups_of=[self.group_of(runs) for _, runs in entries])
        self.query_one("#compare-loss", LossChart).show(loss_series)
        self.query_one("#compare-acc", LossChart).show(acc_series)
        table = self.query_one("#compare-table", DataTable)
        table.add_column("run" if what == "runs" else "group")
        for index, (label, _) in enumerate(entries):
            table.add_column(Text(label, style=COLORS[index % len(COLORS)]))
        for key in differing:
            if key == "model_source":  # the text differs: its hash here, the diff below
                table.add_row("source", *(plain(short_hash(runs[0]["config"].get(key, ""))) for _, runs in entries))
                continue
            table.add_row(key, *(plain(runs[0]["config"].get(key, "")) for _, runs in entries))
        for key, cells in environments.items():  # what they ran on, where it differs (yellow)
            table.add_row(Text(LABELS[key], style="yellow"), *map(plain, cells))
        self.show_source_diff(entries)
        groups = [self.group_of(runs) for _, runs in entries]
        for key in ("status", *RESULTS):
            table.add_row(f"[b]{key}[/b]", *(summary(key, runs, g) for (_, runs), g in zip(entries, groups)))
        for column in held_out_columns(entries):
            table.add_row(f"[b]{column}[/b]", *(held_out_summary(column, runs) for _, runs in entries))
        if what == "groups" and len(entries) > 1:  # is a difference real? each group against the first
            for key in MEASURES:
                table.add_row(f"[b]{key} − first[/b]", *difference_cells(key, [runs for _, runs in entries]))
