"""A search in the app: the Runs tab's line per search, and compare's charts of its trials."""

import math

import pytest
from textual.widgets import Static

from cifar_tui.engine.events import EpochEnd, RunFinished, RunPruned, RunStarted
from cifar_tui.engine.sweep import parse_value
from cifar_tui.store.recorder import record
from cifar_tui.store.study import StudySettings
from cifar_tui.tui.app import CifarApp
from cifar_tui.tui.screens.compare import CompareScreen
from cifar_tui.tui.widgets.loss_chart import LossChart
from cifar_tui.tui.widgets.search_charts import search_charts


def epoch(run_id, number, acc):
    return EpochEnd(run_id, number, number * 10, 1.0, 0.5, acc, (acc,) * 10, 1.0, 1000.0)


def searched(home):
    """A search over lr (a range) and batch size: trials 1, 2 finished at 70 and 80, trial 3 pruned
    after epoch 1 at 30, trial 4 still queued."""
    store = home.store()
    values = {"dataset": "synthetic", "epochs": 2, "lr": parse_value("lr", "1e-4:1e-1")}
    values["batch_size"] = parse_value("batch_size", "32,64")
    store.enqueue_study(values, None, StudySettings(search="random", trials=5, parallel=1, prune="asha"))
    for run_id, accs, pruned in ((1, (60.0, 70.0), False), (2, (65.0, 80.0), False), (3, (30.0,), True)):
        claim = store.claim_next("test:1")
        assert claim.run_id == run_id
        events = [RunStarted(run_id, "{}", "cpu", "CPU", 1, 10, 20)]
        events += [epoch(run_id, n, acc) for n, acc in enumerate(accs, 1)]
        events.append(RunPruned(run_id, 1, 10) if pruned else RunFinished(run_id, accs[-1], 0.5, 2.0))
        with store.write():
            for event in events:
                record(store, event)
    store.top_up_studies()
    return store


def test_the_charts_put_a_range_on_a_log_scale_and_count_each_trial():
    settings = {"objective": "test_acc", "space": {"lr": {"low": 1e-4, "high": 1e-1}, "model": {"choices": ["a", "b"]}}}
    outcomes = [
        {"number": 0, "status": "finished", "point": {"lr": 1e-3, "model": "b"}, "value": 70.0},
        {"number": 1, "status": "pruned", "point": {"lr": 1e-2, "model": "a"}, "value": 30.0},
    ]
    (best, by_lr, by_model) = search_charts(settings, outcomes, [(0, 70.0)])
    assert best[0] == "best test_acc so far" and list(best[2][0].ys) == [70.0]
    assert by_lr[1] == "log10 lr" and [list(s.xs) for s in by_lr[2]] == [[-3.0], [-2.0]]
    assert by_model[1] == "model: a, b" and [list(s.xs) for s in by_model[2]] == [[1.0], [0.0]]
    assert [list(s.ys) for s in by_model[2]] == [[70.0], [30.0]] and by_model[2][1].label == "pruned"


@pytest.mark.asyncio
async def test_the_runs_tab_shows_the_search_and_compare_plots_its_trials(home):
    searched(home).close()
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        line = str(app.query_one("#runs-searches", Static).render())
        assert "search s1 (random, pruned by asha): 4/5 trials · 2 finished · 1 pruned · 0 running · 1 queued" in line
        assert "best 80.00 test_acc (run 2)" in line
        app.push_screen(CompareScreen(run_ids=[1, 2, 3]))
        await pilot.pause()
        charts = list(app.screen.query(".compare-search-chart").results(LossChart))
        assert [c.title for c in charts] == [
            "best test_acc so far",
            "test_acc against lr",
            "test_acc against batch_size",
        ]
        assert [list(s.ys) for s in charts[0]._series] == [[70.0, 80.0]]
        finished, pruned = charts[1]._series
        assert list(finished.ys) == [70.0, 80.0] and list(pruned.ys) == [30.0]
        assert all(-4 <= x <= -1 for x in [*finished.xs, *pruned.xs]) and not any(map(math.isnan, finished.xs))
        assert not app.screen.query_one("#compare-confusions").display


@pytest.mark.asyncio
async def test_the_new_form_starts_a_search_and_says_what_is_wrong_beside_the_field(home):
    from textual.widgets import Input, Select

    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.query_one("#field-dataset", Select).value = "synthetic"
        app.query_one("#field-lr", Input).value = "1e-4:1e-1"
        app.query_one("#field-search", Select).value = "grid"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "a grid search takes lists of values" in str(app.query_one("#error-lr", Static).render())
        app.query_one("#field-search", Select).value = "tpe"
        app.query_one("#field-trials", Input).value = "many"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "a whole number of trials" in str(app.query_one("#error-trials", Static).render())
        assert app.store.studies() == []
        app.query_one("#field-trials", Input).value = "4"
        app.query_one("#field-prune", Select).value = "median"
        await pilot.press("ctrl+s")
        await pilot.pause()
        (study,) = app.store.studies()
        assert (study["search"], study["prune"], study["trials"], study["proposed"]) == ("tpe", "median", 4, 1)
        (trial,) = app.store.queue()
        assert 1e-4 <= trial["config"]["lr"] <= 1e-1 and trial["config"]["dataset"] == "synthetic"


def test_a_search_of_two_objectives_shows_its_front_not_a_best():
    from cifar_tui.tui.views.runs_view import search_line

    study = {
        "name": "s2", "search": "nsga2", "prune": "none", "objective": "test_acc,seconds", "trials": 10,
        "proposed": 10, "finished": 10, "pruned": 0, "running": 0, "queued": 0, "best": None, "best_run": None,
        "front": 4,
    }  # fmt: skip
    text = search_line(study).plain
    assert text.endswith("· Pareto front of test_acc,seconds: 4 trials") and "best" not in text
