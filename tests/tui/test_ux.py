"""What a newcomer runs into: keys that ask before they destroy, enter that moves on, a help
screen, tables that fit, estimates that wait until they mean something."""

import time

import pytest
from textual.widgets import DataTable, Input, Select, Static, Switch

from cifar_tui.engine.config import make_config
from cifar_tui.engine.datasets import DATASETS
from cifar_tui.tui.app import CifarApp
from cifar_tui.tui.live_state import LiveState
from cifar_tui.tui.screens.help import HelpScreen
from cifar_tui.tui.widgets.loss_chart import Series, data_bounds
from tests.tui.conftest import finished_run
from tests.tui.test_cli import cifar_tui  # noqa: F401  (a fixture)

SIZE = (100, 30)


async def test_enter_moves_to_the_next_field_and_ctrl_s_queues(home):
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1")
        app.query_one("#field-lr", Input).focus()
        await pilot.press("enter")
        assert app.focused.id == "field-muon_lr" and app.store.queue() == []
        app.query_one("#field-dataset", Select).value = "synthetic"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(app.store.queue()) == 1


async def test_the_help_screen_lists_every_tabs_keys(home):
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(100, 50)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one(Static).render())
        for words in (
            "Add to queue",
            "Cancel run",
            "Pause run",
            "Groups",
            "Remove",
            "Tag",
            "Help",
            "Quit",
            "next field",
        ):
            assert words in text, words
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_form_help_follows_the_fields(home):
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1")
        hflip = app.query_one("#error-hflip", Static)
        assert str(hflip.render()).startswith("on ")
        app.query_one("#field-hflip", Switch).value = False
        await pilot.pause()
        assert str(hflip.render()).startswith("off")
        app.query_one("#field-dataset", Select).value = "synthetic"
        await pilot.pause()
        assert str(app.query_one("#error-dataset", Static).render()) == DATASETS["synthetic"].help  # its declaration
        app.query_one("#field-lr", Input).value = "fast"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = app.query_one("#error-lr", Static)
        assert error.has_class("error")
        app.query_one("#field-lr", Input).value = "0.01"  # fixed: the error goes at once
        await pilot.pause()
        assert not error.has_class("error") and str(error.render()) == "Learning rate."


async def test_vi_keys_and_home_end_move_in_tables_and_the_newest_stays_on_top(home):
    store = home.store()
    for index in range(5):
        finished_run(store, name=f"r{index}")
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        table = app.query_one("#runs-table", DataTable)
        table.focus()
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("end")
        assert table.cursor_row == 4
        await pilot.press("home")
        assert table.cursor_row == 0
        finished_run(store, name="newest")
        app.query_one("#runs-view").reload()
        await pilot.pause()
        assert table.cursor_row == 0 and str(table.get_row_at(0)[1]) == "6"  # on the newest, not on run 5


async def test_screenshots_go_to_the_home_folder(home):
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.action_screenshot()
        await pilot.pause()
        assert len(list(home.path.glob("*.svg"))) == 1
        app.deliver_screenshot()  # what the palette's Screenshot entry calls
        for _ in range(50):
            await pilot.pause(0.1)
            if len(list(home.path.glob("*.svg"))) == 2:
                break
        assert len(list(home.path.glob("*.svg"))) == 2


def test_runs_at_80_columns_never_cut_a_number(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path))
    from cifar_tui.store.runs import RunStore

    store = RunStore(tmp_path / "runs.db")
    finished_run(store, accs=(12.5, 83.69), name="a rather long name that will not fit " * 2)
    with store.write():
        store.db.execute("UPDATE runs SET images_per_s = 1250.5, error = ? WHERE id = 1", ["boom " * 60])
    status, out, _ = cifar_tui(capsys, "runs")
    assert status == 0
    assert max(map(len, out.splitlines())) <= 80
    assert "83.69" in out and "not shown (too narrow):" in out
    assert len(out.splitlines()) < 20  # one line a row: the long error does not wrap over the screen


@pytest.mark.parametrize("width", [100, 160])
def test_runs_keeps_id_status_and_accuracy_beside_a_long_path_cut_in_its_middle(tmp_path, capsys, monkeypatch, width):
    """`runs` as the Runs tab: a long value keeps its start and its end, the row its results, and
    the table fits the terminal."""
    from cifar_tui.engine import eval_sets
    from cifar_tui.store.runs import RunStore

    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path))
    monkeypatch.setattr(eval_sets, "checked", lambda text, cwd, dataset: text)
    long_path = "cifar10-c:/data/shared/benchmarks/robustness/of/our/group/CIFAR-10-C#gaussian_noise"
    store = RunStore(tmp_path / "runs.db")
    finished_run(store, accs=(12.5, 83.69))
    finished_run(store, accs=(12.5, 71.25), eval_on=long_path, name="held-out sets")
    store.close()
    status, out, err = cifar_tui(capsys, "runs", "--columns", "id,status,eval_on,name,test_acc,best_test_acc,test_loss")
    assert status == 0, err
    assert max(map(len, out.splitlines())) <= width
    [row] = [line for line in out.splitlines() if "│   2 │" in line]
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[:2] == ["2", "finished"] and "71.25" in cells
    cut = next(cell for cell in cells if cell.startswith("cifar10-c:"))
    head, tail = cut.split("…")  # too long for a cell of at most 60 here: cut once, in its middle
    assert long_path.startswith(head) and long_path.endswith(tail) and tail.endswith("#gaussian_noise"), cut


def test_the_eta_waits_until_the_speed_has_settled():
    state = LiveState()
    config = make_config(dataset="synthetic", epochs=2)
    from cifar_tui.engine.events import Losses, RunStarted

    state.apply(RunStarted(1, config.to_json(), "cpu", "cpu", 1, 1000, 2000))
    state.apply(Losses(1, 1, 0, (1.0,) * 10))
    state.run.started = time.monotonic() - 2
    assert state.run.eta_s is None  # 10 steps in 2 s: too early to tell
    state.apply(Losses(1, 1, 10, (1.0,) * 90))
    state.run.started = time.monotonic() - 10
    assert state.run.eta_s == pytest.approx((2000 - 100) * 64 / (100 * 64 / 10), rel=0.01)


def test_an_accuracy_chart_shows_at_least_its_minimum_span():
    _, _, low, high = data_bounds([Series("acc", [1, 2], [83.7, 85.3])], min_span=10)
    assert high - low >= 10 and low < 83.7 and high > 85.3


async def test_live_lets_the_user_pick_which_training_run_to_watch(home):
    from cifar_tui.engine.events import RunStarted
    from cifar_tui.store.recorder import record
    from cifar_tui.tui.screens.pick_run import PickRunScreen

    store = home.store()
    ids = []
    for worker in ("gpu0:1", "gpu1:2"):
        run_id = store.enqueue(make_config(dataset="synthetic", name=worker).to_dict())
        store.claim(run_id, worker=worker)
        with store.write():
            record(store, RunStarted(run_id, make_config(dataset="synthetic").to_json(), "cuda:0", "H100", 1, 10, 100))
        ids.append(run_id)
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause(0.8)
        assert app.live.run.run_id == ids[1]  # the newest
        app.query_one("#live-view").focus()
        await pilot.press("w")
        assert isinstance(app.screen, PickRunScreen)
        await pilot.press("home", "enter")  # the first listed: the older run
        await pilot.pause(0.2)
        assert app.live.run.run_id == ids[0]


def recorded_run(store, acc=70.0):
    """A finished one-epoch run whose epoch carries a confusion matrix and wrong images."""
    from cifar_tui.engine.events import EpochEnd, RunFinished, RunStarted
    from cifar_tui.store.recorder import record
    from tests.tui.test_snapshots import confusion, pictures

    run_id = store.enqueue(make_config(dataset="synthetic", epochs=1, lr=acc / 1e5).to_dict())
    store.claim(run_id, worker="w:1")
    end = EpochEnd(run_id, 1, 10, 1.0, 1.0, acc, (acc,) * 10, 1.0, 100.0, confusion=confusion(1),
                   wrong_labels=(3, 5) * 6, wrong_images=pictures())  # fmt: skip
    with store.write():
        for event in (RunStarted(run_id, make_config(dataset="synthetic").to_json(), "cpu", "cpu", 1, 10, 10), end,
                      RunFinished(run_id, acc, 1.0, 1.0)):  # fmt: skip
            record(store, event)
    return run_id


async def test_the_detail_screen_shows_the_last_epochs_panels(home):
    from cifar_tui.tui.screens.run_detail import RunDetailScreen

    run_id = recorded_run(home.store())
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(RunDetailScreen(run_id))
        await pilot.pause(0.3)
        assert "confusion, epoch 1" in str(app.screen.query_one("#detail-confusion").render())
        assert "cat→dog" in str(app.screen.query_one("#detail-wrong").render())


async def test_compare_shows_each_runs_confusion_matrix(home):
    from cifar_tui.tui.screens.compare import CompareScreen

    store = home.store()
    ids = [recorded_run(store, 70.0), recorded_run(store, 75.0)]
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(CompareScreen(ids))
        await pilot.pause(0.3)
        matrices = app.screen.query(".compare-confusion")
        assert len(matrices) == 2 and all("confusion, epoch 1" in str(m.render()) for m in matrices)


async def test_the_form_takes_an_image_folder_and_says_what_is_wrong_beside_it(home, tmp_path, monkeypatch):
    (tmp_path / "pets" / "train" / "cat").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("1")
        field = app.query_one("#field-image_folder", Input)
        field.value = "nowhere"
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = app.query_one("#error-image_folder", Static)
        assert error.has_class("error") and f"{tmp_path / 'nowhere'} is not a folder" in str(error.render())
        assert app.store.queue() == []
        field.value = "pets"  # a folder, with no test/ in it yet
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert error.has_class("error") and "needs a train/ folder and a test/" in str(error.render())
        assert app.store.queue() == []
        (tmp_path / "pets" / "test" / "cat").mkdir(parents=True)
        field.value = "./pets"
        await pilot.pause()
        assert not error.has_class("error")
        await pilot.press("ctrl+s")
        await pilot.pause()
        [queued] = app.store.queue()
        assert queued["config"]["dataset"] == f"folder:{tmp_path / 'pets'}"  # absolute: a worker elsewhere finds it
        app.query_one("#field-image_folder", Input).value = ""
        app.clone_run(queued["id"])  # a clone names the folder again
        await pilot.pause()
        assert field.value == str(tmp_path / "pets") and app.query_one("#field-dataset", Select).value == "cifar10"


async def test_a_long_value_is_cut_in_the_middle_and_w_shows_it_whole(tmp_path, monkeypatch):
    from textual.widgets import DataTable

    from cifar_tui.engine import eval_sets
    from cifar_tui.tui.app import CifarApp
    from cifar_tui.tui.safe_text import middle_cut
    from cifar_tui.tui.views.runs_view import RunsView
    from cifar_tui.tui.worker.home import Home
    from tests.tui.conftest import finished_run
    from tests.tui.test_snapshots import LONG_EVAL_ON

    assert middle_cut("abcdefghij", 5) == "ab…ij" and middle_cut("abc", 5) == "abc"
    assert len(middle_cut(LONG_EVAL_ON, 24)) == 24
    monkeypatch.setattr(eval_sets, "checked", lambda text, cwd, dataset: text)
    home = Home(tmp_path / "home")
    store = home.store()
    finished_run(store, name="plain")
    finished_run(store, eval_on=LONG_EVAL_ON, name="x" * 40)
    store.close()
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        view = app.query_one(RunsView)
        table = view.query_one(DataTable)
        keys = [str(k.value) for k in table.columns]
        assert keys[1:5] == ["id", "name", "status", "epochs"] and keys[5] == "test_acc"  # results first
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[keys.index("eval_on")] == middle_cut(LONG_EVAL_ON, 24)
        assert row[keys.index("name")] == middle_cut("x" * 40, 32)
        await pilot.press("w")
        await pilot.pause()
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[keys.index("eval_on")] == LONG_EVAL_ON and row[keys.index("name")] == "x" * 40
