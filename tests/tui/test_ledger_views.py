"""The presets ledger where a user reads it: `cifar-tui presets` and the app's ledger screen."""

from __future__ import annotations

import json

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.store.runs import RunStore
from tests.store.test_ledger import OFFICIAL, finished


def test_the_presets_command_prints_the_ledger_and_its_json(tmp_path, capsys):
    """Runs queued from the command line record their preset; a sweep of one recipe field is left out."""
    from tests.tui.test_cli import cifar_tui

    home = ("--home", str(tmp_path / "home"))
    assert cifar_tui(capsys, *home, "queue", "add", "--preset", "seed-cnn", "--seed", "0..2")[0] == 0
    assert cifar_tui(capsys, *home, "queue", "add", "--preset", "seed-cnn", "--lr", "0.01")[0] == 0
    store = RunStore(tmp_path / "home" / "runs.db")
    with store.write():
        store.db.execute(
            "UPDATE runs SET status = 'finished', test_acc = 64.0 + id, environment = ?", [json.dumps(OFFICIAL)]
        )
    store.close()
    status, out, err = cifar_tui(capsys, *home, "presets", "--json")
    rows = {row["preset"]: row for row in json.loads(out)}
    assert status == 0 and rows["seed-cnn"]["n"] == 3 and rows["seed-cnn"]["mean"] == pytest.approx(66.0)
    assert rows["seed-cnn"]["left_out"] == {"a changed recipe field": 1} and rows["seed-cnn"]["published"] == 64.86
    status, out, err = cifar_tui(capsys, *home, "presets")
    line = next(line for line in (out + err).splitlines() if "seed-cnn" in line)
    assert status == 0 and "64.86" in line and "66.00 [" in line and "1 with a changed recipe field" in line


async def test_the_app_shows_the_ledger_from_the_command_palette_with_text_kept_literal(tmp_path):
    from textual.widgets import DataTable

    from cifar_tui.tui.app import CifarApp
    from cifar_tui.tui.screens.ledger import LedgerScreen
    from cifar_tui.tui.worker.home import Home

    home = Home(tmp_path / "home")
    store = home.store()
    for seed, acc in enumerate([91.0, 91.4]):
        finished(store, make_config("resnet20", seed=seed), acc, environment={**OFFICIAL, "gpu": "[b]GPU[/b] $x$"})
    store.close()
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Presets ledger" in commands
        app.action_show_ledger()
        await pilot.pause()
        assert isinstance(app.screen, LedgerScreen)
        table = app.screen.query_one(DataTable)
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
        assert rows["resnet20"][1:5] == ["91.25", "cifar10", "2", "91.20 [88.66, 93.74]"]
        assert rows["resnet20"][7] == "[b]GPU[/b] $x$"  # the recorded name, as it is
        await pilot.press("escape")
        assert not isinstance(app.screen, LedgerScreen)


def test_compare_shows_a_preset_s_published_figure_as_a_reference_row(tmp_path, capsys):
    from scipy import stats

    from tests.tui.test_cli import cifar_tui

    store = RunStore(tmp_path / "home" / "runs.db")
    accuracies = [91.0, 91.3, 91.9]
    for seed, acc in enumerate(accuracies):
        finished(store, make_config("resnet20", seed=seed), acc)
    store.close()
    home = ("--home", str(tmp_path / "home"))
    status, out, _ = cifar_tui(capsys, *home, "compare", "preset=resnet20", "--reference", "resnet20", "--json")
    first, published = json.loads(out)
    low, high = stats.t.interval(0.95, 2, loc=91.4, scale=stats.sem(accuracies))
    assert status == 0 and first["n"] == 3 and published["mean"] == 91.25
    assert published["diff"] == pytest.approx(91.25 - 91.4)
    assert (published["ci_low"], published["ci_high"]) == pytest.approx((91.25 - high, 91.25 - low))
    assert published["p_value"] == pytest.approx(stats.ttest_1samp(accuracies, 91.25).pvalue)
    status, _, err = cifar_tui(capsys, *home, "compare", "preset=resnet20", "--reference", "resnet21")
    assert status == 2 and "reference: 'resnet21' is no preset with a published figure" in err


async def test_the_runs_tab_s_groups_show_a_preset_s_published_figure_under_its_group(tmp_path):
    """A group is a preset's when its recipe is (recorded or typed by hand); a changed field or
    another dataset is not; a JPEG copy's group says its files are not the official ones."""
    from textual.widgets import DataTable

    from cifar_tui.tui.app import CifarApp
    from cifar_tui.tui.views.runs_view import RunsView
    from cifar_tui.tui.worker.home import Home
    from tests.store.test_ledger import JPEG

    home = Home(tmp_path / "home")
    store = home.store()
    for seed, acc in enumerate([91.0, 91.4]):
        finished(store, make_config("resnet20", seed=seed), acc)
    by_hand = make_config("resnet20", seed=5).to_dict() | {"preset": ""}
    store.enqueue(by_hand)  # queued: a member of the same group
    finished(store, make_config("resnet20", lr=0.2), 90.0)  # a changed recipe field: no reference
    finished(store, make_config("resnet20", dataset="synthetic"), 50.0)  # not the reference's dataset
    finished(store, make_config("resnet56", seed=1), 92.0, environment=JPEG)
    store.close()
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 40)) as pilot:
        app.query_one("#tabs").active = "runs"
        await pilot.pause()
        view = app.query_one(RunsView)
        view.action_toggle_groups()
        await pilot.pause()
        table = view.query_one(DataTable)
        keys = [str(k.value) for k in table.columns]
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert keys[1] == "preset"
        at = {name: keys.index(name) for name in ("preset", "n", "test_acc_mean")}
        presets = [row[at["preset"]] for row in rows]
        assert presets.count("resnet20") == 1 and presets.count("resnet56") == 1 and presets.count("") == 2
        below = rows[presets.index("resnet20") + 1]
        assert below[at["preset"]] == "published" and below[at["test_acc_mean"]] == "91.25"
        below = rows[presets.index("resnet56") + 1]
        assert below[at["preset"]] == "published, other data"
        assert below[at["test_acc_mean"]] == "93.03"
        assert len(rows) == 6  # four groups, two figures
        table.move_cursor(row=presets.index("resnet20") + 1)
        await pilot.press("space")  # a published figure is no run: nothing is selected
        assert view.selected == set()
