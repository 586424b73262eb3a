"""The app driven with Pilot, as a user would: keys, forms, dialogs."""

import json

import pytest
from textual.widgets import DataTable, Input, Select

import cifar_tui.tui.worker.engine_process as engine_process
from cifar_tui.engine.config import make_config
from cifar_tui.store.export import FORMATS, export, table
from cifar_tui.tui.app import CifarApp
from cifar_tui.tui.screens.compare import CompareScreen
from cifar_tui.tui.screens.confirm import ConfirmScreen
from cifar_tui.tui.screens.export_dialog import ExportScreen
from cifar_tui.tui.screens.run_detail import RunDetailScreen
from cifar_tui.tui.views.runs_view import RunsView
from cifar_tui.tui.widgets.loss_chart import LossChart
from tests.helpers import wait_until
from tests.tui.scripted_engine import ScriptedEngine

SIZE = (100, 30)


def field(app, name):
    return app.query_one(f"#field-{name}" if name != "copies" else "#copies")


def set_fields(app, **values):
    for name, value in values.items():
        field(app, name).value = value


QUICK = dict(dataset="synthetic", device="cpu", epochs="2", limit_batches="20")


# ------------------------------------------------------------------ New experiment form


WRONG_VALUES = [
    ("lr", "-1", "must be > 0"),
    ("epochs", "many", "must be an integer"),
    ("batch_size", "0", "between 1 and 65536"),
    ("dropout", "1.5", "must be >= 0 and < 1"),
    ("copies", "0", "from 1 to 100"),
    ("swa_start", "10", "before the run's last epoch 10"),
    ("randaugment_m", "31", "a bin between 0 and 30"),
]


async def test_form_shows_errors_beside_the_field_and_queues_nothing(home):
    """Each wrong value in turn (one app: a form's start costs a second), the field put back after."""
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.action_show_tab("new")
        for name, value, message in WRONG_VALUES:
            before = field(app, name).value
            set_fields(app, **{name: value})
            await pilot.press("ctrl+s")
            await pilot.pause()
            label = app.query_one(f"#error-{name}")
            assert message in str(label.render()) and label.has_class("error"), name
            assert app.store.queue() == []
            set_fields(app, **{name: before})


async def test_form_checks_the_device_against_the_engines_machine(home):
    app = CifarApp(home, engine="thread")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.engine is not None and app.engine_devices is not None)
        machine_has = app.engine_devices
        set_fields(app, device="cuda:99")
        app.action_add_run()
        await pilot.pause()
        error = str(app.query_one("#error-device").render())
        assert ("CUDA is not available" in error) if machine_has == ["cpu"] else ("cuda:99 does not exist" in error)
        assert app.store.queue() == []


@pytest.mark.parametrize(
    "device, compile_mode, devices, problem",
    [
        ("auto", "off", ["cpu"], None),
        ("cuda", "off", ["cpu"], ("device", "cuda was asked for but CUDA is not available here; use cpu or auto")),
        ("cuda:1", "off", ["cuda:0", "cpu"], ("device", "cuda:1 does not exist; this machine has cuda:0, cpu")),
        ("cuda", "cudagraphs", ["cuda:0", "cpu"], None),
        ("auto", "cudagraphs", ["cuda:0", "cpu"], None),
        ("auto", "cudagraphs", ["mps", "cpu"], ("compile", "cudagraphs needs a CUDA device; auto is mps")),
        ("cpu", "off", None, None),  # the engine has not said yet: the worker checks when it trains
    ],
)
def test_device_check_without_torch(device, compile_mode, devices, problem):
    from cifar_tui.tui.views.new_run import check_device

    assert check_device(make_config(device=device, compile=compile_mode), devices) == problem


async def test_preset_fills_the_form_and_copies_get_their_own_seeds(home):
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # the app has settled on its first tab
        app.action_show_tab("new")
        app.query_one("#preset", Select).value = "seed-resnet"
        await pilot.pause()
        assert app.query_one("#field-model", Select).value == "seed-resnet"
        assert app.query_one("#field-epochs", Input).value == "3"
        set_fields(app, seed="5", copies="3", **QUICK)
        await pilot.click("#add")
        await pilot.pause()
        queued = app.store.queue()
        assert [r["config"]["seed"] for r in queued] == [5, 6, 7]  # configs come parsed
        assert {r["model"] for r in queued} == {"seed-resnet"}
        assert [r["name"] for r in queued] == ["seed-resnet s5", "seed-resnet s6", "seed-resnet s7"]


async def test_a_run_queued_from_a_preset_in_the_form_records_the_preset(home):
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.action_show_tab("new")
        app.query_one("#preset", Select).value = "resnet20"
        await pilot.pause()
        assert app.query_one("#field-model", Select).value == "resnet20"
        set_fields(app, seed="3")
        await pilot.press("ctrl+s")
        await pilot.pause()
        (queued,) = app.store.queue()
        assert (queued["config"]["preset"], queued["config"]["epochs"], queued["config"]["seed"]) == (
            "resnet20",
            164,
            3,
        )


async def test_the_form_queues_a_policy_and_an_average(home):
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.action_show_tab("new")
        app.query_one("#field-augment_policy", Select).value = "randaugment"
        set_fields(app, randaugment_n="3", swa_start="1", swa_lr="0.01", **QUICK)
        await pilot.press("ctrl+s")
        await pilot.pause()
        (queued,) = app.store.queue()
        config = queued["config"]
        assert (config["augment_policy"], config["randaugment_n"], config["swa_start"]) == ("randaugment", 3, 1)
        assert config["swa_lr"] == 0.01


async def test_a_list_or_range_in_the_form_queues_a_sweep(home):
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.action_show_tab("new")
        set_fields(app, lr="1e-3,1e-2", seed="0..1", **QUICK)
        await pilot.press("ctrl+s")
        await pilot.pause()
        queued = app.store.queue()
        assert [(r["config"]["lr"], r["config"]["seed"]) for r in queued] == [
            (1e-3, 0),
            (1e-3, 1),
            (1e-2, 0),
            (1e-2, 1),
        ]
        assert {r["sweep"] for r in queued} == {"s1"}
        set_fields(app, lr="1e-3,,1e-2")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "an empty item in the list" in str(app.query_one("#error-lr").render())
        assert len(app.store.queue()) == 4


async def test_clone_puts_a_past_run_in_the_form(runs_home):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.clone_run(2)
        await pilot.pause()
        assert app.query_one("#tabs").active == "new"
        assert app.query_one("#field-model", Select).value == "seed-resnet"
        assert app.query_one("#field-lr", Input).value == "0.01"
        assert app.query_one("#field-name", Input).value == "resnet lr 0.01"


# ------------------------------------------------------------------ Queue


async def test_queue_reorder_cancel_and_remove(home):
    store = home.store()
    a, b, c = (store.enqueue(make_config(name=n, dataset="synthetic").to_dict()) for n in "abc")
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = app.query_one("#queue-table", DataTable)
        table.focus()
        table.move_cursor(row=2)  # run c
        await pilot.press("K")
        assert [r["id"] for r in store.queue()] == [a, c, b]
        await pilot.press("K")
        assert [r["id"] for r in store.queue()] == [c, a, b]
        await pilot.press("c")  # cancel c, which is under the cursor: it asks first
        assert isinstance(app.screen, ConfirmScreen) and store.run(c)["status"] == "queued"
        await pilot.press("n")
        assert store.run(c)["status"] == "queued"
        await pilot.press("c", "y")
        await pilot.pause()
        assert store.run(c)["status"] == "cancelled"
        assert table.cursor_row == 0  # its row left; the cursor stays where it was, on a
        table.move_cursor(row=table.get_row_index(str(b)))
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen) and store.run(b) is not None
        await pilot.press("y")
        await pilot.pause()
        assert store.run(b) is None
        assert [r["id"] for r in store.queue()] == [a]
        assert table.cursor_row == 0


async def test_the_queue_shows_the_fields_that_tell_its_runs_apart(home):
    store = home.store()
    for seed in (1, 2, 3):
        store.enqueue(make_config(dataset="synthetic", seed=seed, weight_decay=0.0005).to_dict())
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = app.query_one("#queue-table", DataTable)
        columns = [str(column.label) for column in table.columns.values()]
        assert columns[-1] == "seed" and "weight_decay" not in columns  # the same in every run
        assert [table.get_row_at(row)[-1].plain for row in range(3)] == ["1", "2", "3"]
        store.enqueue(make_config(dataset="synthetic", seed=3, weight_decay=0.01).to_dict())
        await wait_until(pilot, lambda: table.row_count == 4)
        assert [str(column.label) for column in table.columns.values()][-2:] == ["weight_decay", "seed"]
        assert [cell.plain for cell in table.get_row_at(3)[-2:]] == ["0.01", "3"]  # in declaration order


# ------------------------------------------------------------------ Live

# The app's two engines, a `cifar-tui worker` child (the default) and a thread of the app, in the
# full tier; in the fast tier the scripted engine (the real queue, recorder and store; replayed training).
ENGINES = pytest.mark.parametrize(
    "engine",
    [
        pytest.param("process", marks=pytest.mark.slow),
        pytest.param("thread", marks=pytest.mark.slow),
        pytest.param(ScriptedEngine, id="scripted"),
    ],
)


@ENGINES
async def test_a_live_run_fills_the_chart_and_the_epoch_table(home, engine):
    app = CifarApp(home, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1")
        set_fields(app, **QUICK)
        await pilot.press("ctrl+s")
        await pilot.press("3")
        await wait_until(pilot, lambda: app.live.run is not None and app.live.run.status == "finished")
        chart = app.query_one("#live-chart", LossChart)
        # The chart redraws at a bounded rate (1 Hz): its next redraw shows every step.
        await wait_until(pilot, lambda: len(chart._series) == 2 and len(chart._series[0].xs) == 40, timeout=5)
        await wait_until(pilot, lambda: app.query_one("#epoch-table", DataTable).row_count == 2, timeout=5)
        assert "finished" in str(app.query_one("#live-title").render())
        assert app.store.run(1)["status"] == "finished" and app.store.loss_count(1) == 40
    if engine == "process":
        assert app.engine.process.poll() is not None  # quitting stopped the child worker


@ENGINES
async def test_a_run_that_fails_before_training_is_announced_and_shown_on_live(home, engine):
    app = CifarApp(home, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        # A device this machine lacks: the worker fails the run before its first step.
        run_id = app.store.enqueue(make_config(dataset="synthetic", device="cuda:7", name="[b]no[/b] gpu").to_dict())
        await pilot.press("3")
        await wait_until(pilot, lambda: app.live.run is not None and app.live.run.run_id == run_id)
        assert app.live.run.status == "failed" and "cuda" in app.live.run.error
        await wait_until(pilot, lambda: "failed" in str(app.query_one("#live-title").render()), timeout=5)
        assert "“[b]no[/b] gpu”" in str(app.query_one("#live-title").render())  # the name, literally
        failures = [n.message for n in app._notifications if n.severity == "error"]
        assert len(failures) == 1 and f"run {run_id} failed" in failures[0]


@ENGINES
async def test_cancel_stops_the_live_run(home, engine):
    app = CifarApp(home, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        app.store.enqueue(make_config(dataset="synthetic", device="cpu", epochs=50).to_dict())
        await pilot.press("3")
        await wait_until(pilot, lambda: app.live.run is not None and app.live.run.step > 0)
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)  # stopping a training run asks first
        await pilot.press("y")
        await wait_until(pilot, lambda: app.store.run(1)["status"] == "cancelled", timeout=5)
        await wait_until(pilot, lambda: app.live.run.status == "cancelled", timeout=2)


@ENGINES
async def test_a_run_queued_from_another_shell_is_trained(home, engine):
    app = CifarApp(home, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        other_shell = home.store()  # another connection, as `cifar-tui queue add` would open
        run_id = other_shell.enqueue(
            make_config(dataset="synthetic", device="cpu", epochs=1, limit_batches=5).to_dict()
        )
        await wait_until(pilot, lambda: app.store.run(run_id)["status"] == "finished")
        await pilot.press("4")
        await wait_until(pilot, lambda: app.query_one("#runs-table", DataTable).row_count == 1, timeout=5)


@ENGINES
async def test_quit_while_training_asks_then_cancels(home, engine):
    app = CifarApp(home, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        app.store.enqueue(make_config(dataset="synthetic", device="cpu", epochs=50).to_dict())
        await wait_until(pilot, lambda: app.live.run is not None and app.live.run.step > 0)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.is_running and app.store.run(1)["status"] == "running"
        await pilot.press("q")
        await pilot.press("y")
    assert home.store().run(1)["status"] == "cancelled"


@ENGINES
async def test_pausing_the_engine_holds_the_queue(home, engine):
    app = CifarApp(home, engine=engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause(0.2)  # the thread engine starts after the first frame
        await pilot.press("p")  # at once, while the child still imports torch
        app.store.enqueue(make_config(dataset="synthetic", device="cpu", epochs=1, limit_batches=5).to_dict())
        await pilot.pause(6 if engine == "process" else 1)  # the engine is up and has looked at the queue many times
        assert app.store.run(1)["status"] == "queued"
        assert engine != "process" or app.engine.exit_code() is None
        assert "paused" in str(app.query_one("#queue-status").render())
        await pilot.press("p")
        await wait_until(pilot, lambda: app.store.run(1)["status"] == "finished")


@pytest.mark.slow
async def test_a_dead_engine_process_is_replaced_and_its_run_shown_interrupted(home, monkeypatch):
    monkeypatch.setattr(engine_process, "RESTART_AFTER_S", 0)
    app = CifarApp(home, engine="process")
    async with app.run_test(size=SIZE) as pilot:
        app.store.enqueue(make_config(dataset="synthetic", device="cpu", epochs=50).to_dict())
        await wait_until(pilot, lambda: app.live.run is not None and app.live.run.step > 0)
        first = app.engine.process
        first.kill()
        await wait_until(pilot, lambda: app.engine.process is not first)
        await wait_until(pilot, lambda: app.live.run.status == "interrupted")  # found by the new child
        assert app.store.run(1)["status"] == "interrupted" and app.engine.exit_code() is None


# ------------------------------------------------------------------ Runs


async def test_runs_filter_and_sort(runs_home):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        view = app.query_one(RunsView)
        assert [r["id"] for r in view.visible] == [4, 3, 2, 1]
        await pilot.press("slash")
        await pilot.press(*"resnet")
        assert [r["id"] for r in view.visible] == [2]
        app.query_one("#runs-filter", Input).value = "finished"
        await pilot.pause()
        assert [r["id"] for r in view.visible] == [3, 2, 1]
        view.sort_by("test_acc")
        await pilot.pause()
        assert [r["test_acc"] for r in view.visible] == [62.0, 61.5, 58.0]
        view.sort_by("test_acc")
        await pilot.pause()
        assert [r["test_acc"] for r in view.visible] == [58.0, 61.5, 62.0]
        table = app.query_one("#runs-table", DataTable)
        assert str(table.get_row_at(0)[1]) == "2"  # the table shows the sorted order


async def test_grouped_mode_shows_mean_and_std_and_opens_a_groups_runs(runs_home):
    from tests.tui.conftest import finished_run

    store = runs_home.store()
    for seed, final in ((1, 59.0), (2, 64.0)):  # with the baseline's 61.5: mean 61.5, sample std 2.5
        finished_run(store, accs=(40.0, 50.0, final), seed=seed, name=f"baseline s{seed}")
    store.close()
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("4")
        view = app.query_one(RunsView)
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("g")
        await pilot.pause()
        assert view.grouped and len(view.rows) == 4  # baseline x3 seeds, resnet, sgd, the failed cifar10 run
        baseline = next(r for r in view.rows if r["n"] == 3)
        assert baseline["test_acc_mean"] == pytest.approx(61.5) and baseline["test_acc_std"] == pytest.approx(2.5)
        table = app.query_one("#runs-table", DataTable)
        row = table.get_row_index(str(baseline["id"]))
        assert "61.50 ± 2.50" in [str(cell) for cell in table.get_row_at(row)]
        table.move_cursor(row=row)
        await pilot.press("enter")  # a group opens as its runs
        await pilot.pause()
        assert not view.grouped and sorted(r["id"] for r in view.rows) == sorted(baseline["ids"])


async def test_compare_overlays_group_means(runs_home):
    from tests.tui.conftest import finished_run

    store = runs_home.store()
    for seed, accs in ((1, (44.0, 59.0, 63.0)), (2, (42.0, 57.0, 60.0))):
        finished_run(store, accs=accs, seed=seed, name=f"baseline s{seed}")
    store.close()
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("4")
        view = app.query_one(RunsView)
        table = app.query_one("#runs-table", DataTable)
        table.focus()
        await pilot.press("g")
        await pilot.pause()
        baseline = next(r for r in view.rows if r["n"] == 3)
        resnet = next(r for r in view.rows if r["ids"] == [2])
        for row in (baseline, resnet):
            table.move_cursor(row=table.get_row_index(str(row["id"])))
            await pilot.press("space")
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        [mean_curve] = [s for s in app.screen.query_one("#compare-acc", LossChart)._series if "(n=3)" in s.label]
        assert mean_curve.ys == pytest.approx([(40 + 44 + 42) / 3, (55 + 59 + 57) / 3, (61.5 + 63 + 60) / 3])
        results = {
            str(r[0]): [str(c) for c in r[1:]]
            for r in map(
                app.screen.query_one("#compare-table").get_row_at,
                range(app.screen.query_one("#compare-table").row_count),
            )
        }
        column = 1 + [s.label for s in app.screen.query_one("#compare-acc", LossChart)._series].index(mean_curve.label)
        assert results["[b]test_acc[/b]"][column - 1] == "61.50 ± 1.50"
        assert results["[b]status[/b]"][column - 1] == "3 finished"
        assert "seed" not in results  # seeds differ inside a group, not between groups


async def on_run_1_in_the_runs_tab(pilot, app):
    await pilot.press("4")
    table = app.query_one("#runs-table", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index("1"))
    return table


async def test_the_runs_tab_refuses_a_note_as_the_command_line_does(runs_home):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await on_run_1_in_the_runs_tab(pilot, app)
        await pilot.press("n")
        app.screen.query_one(Input).value = "x" * 2001
        await pilot.press("enter")
        await pilot.pause()
        assert app.store.run(1)["note"] in (None, "")  # not cut to 2,000 characters: refused
        (shown,) = [str(n.message) for n in app._notifications]
        assert shown == "note: a note holds at most 2,000 characters (got 2,001)"


async def test_tags_notes_and_names_from_the_runs_tab(runs_home):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=(160, 40)) as pilot:
        table = await on_run_1_in_the_runs_tab(pilot, app)
        await pilot.press("t", *"+paper -none", "enter")
        await pilot.press("n", *"best so far", "enter")
        await pilot.press("m")
        app.screen.query_one(Input).value = "base <b>line</b>"
        await pilot.press("enter")
        await pilot.pause()
        run = app.store.run(1)
        assert (run["tags"], run["note"], run["name"], run["config"]["name"]) == (
            ["paper"],
            "best so far",
            "base <b>line</b>",
            "base <b>line</b>",
        )
        app.query_one("#runs-filter", Input).value = "tag:paper"
        await pilot.pause()
        assert [r["id"] for r in app.query_one(RunsView).rows] == [1]
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        title = str(app.screen.query_one("#detail-title").render())
        assert "tags: paper" in title and "best so far" in title and "base <b>line</b>" in title


async def test_detail_view(runs_home):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("enter")
        assert isinstance(app.screen, RunDetailScreen) and app.screen.run_id == 4
        assert "CIFAR-10 could not be downloaded" in str(app.screen.query_one("#detail-title").render())
        await pilot.press("escape")
        app.push_screen(RunDetailScreen(1))
        await pilot.pause()
        assert app.screen.query_one("#detail-epochs", DataTable).row_count == 3
        assert len(app.screen.query_one("#detail-loss", LossChart)._series[0].xs) == 300


async def test_compare_lists_only_differing_fields(runs_home):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        table = app.query_one("#runs-table", DataTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("2"))
        await pilot.press("space")  # selects 2, moves to 1
        await pilot.press("space")
        await pilot.press("c")
        assert isinstance(app.screen, CompareScreen) and app.screen.members == [[1], [2]]
        rows = app.screen.query_one("#compare-table", DataTable)
        fields = [rows.get_row_at(i)[0] for i in range(rows.row_count)]
        assert fields[:3] == ["model", "lr", "name"] and "status" in fields[5]  # declaration order
        assert [str(f) for f in fields[3:5]] == ["torch", "cuDNN"]  # then where their environments differ
        assert "batch_size" not in fields
        assert len(app.screen.query_one("#compare-loss", LossChart)._series) == 2


async def test_export_dialog_writes_the_filtered_table(runs_home, tmp_path):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        app.query_one("#runs-filter", Input).value = "status=finished"
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("e")
        assert isinstance(app.screen, ExportScreen)
        target = tmp_path / "out" / "table.md"
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.click("#write")
        assert "cannot write" in str(app.screen.query_one("#export-error").render())  # no such folder
        target.parent.mkdir()
        target.write_text("keep me")
        app.screen.query_one("#export-path", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "exists" in str(app.screen.query_one("#export-error").render()) and target.read_text() == "keep me"
        await pilot.press("enter")  # asked, and asked again: replace it
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)
        columns, rows = table(app.store, "status=finished", "-id", False, True)
        expected = export(rows, columns, "md")
        assert target.read_text() == expected and expected.count("| finished |") == 3


async def test_export_dialog_names_the_file_after_each_format(runs_home, tmp_path):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("e")
        for fmt in FORMATS.values():
            app.screen.query_one("#export-format", Select).value = fmt.name
            await pilot.pause()
            path = app.screen.query_one("#export-path", Input).value
            assert path.endswith(f"runs.{fmt.extension}"), (fmt.name, path)


async def test_export_dialog_writes_history_and_losses_for_tools(runs_home, tmp_path):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("e")
        app.screen.query_one("#export-kind", Select).value = "losses"
        app.screen.query_one("#export-path", Input).value = str(tmp_path / "losses.md")
        await pilot.click("#write")
        assert "choose csv, json" in str(app.screen.query_one("#export-error").render())
        app.screen.query_one("#export-format", Select).value = "csv"
        await pilot.pause()
        assert app.screen.query_one("#export-path", Input).value.endswith("losses.csv")
        app.screen.write()
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen), str(app.screen.query_one("#export-error").render())
        lines = (tmp_path / "losses.csv").read_text().splitlines()
        assert lines[0] == "run_id,step,epoch,loss" and len(lines) == 1 + 300 + 300 + 200  # three runs' steps


@pytest.mark.slow  # 6 s: the fast tier stays under 3 minutes
async def test_the_export_dialog_writes_the_file_the_command_line_writes(runs_home, tmp_path, capsys):
    """One use case under both front ends (store/actions.py): the same request, the same bytes."""
    from cifar_tui.tui.cli import main

    for kind, flags in (
        ("history", ["--history"]),
        ("groups", ["--group", "--varying"]),
        ("robustness", ["--robustness"]),
    ):
        app = CifarApp(runs_home, start_engine=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            app.query_one("#runs-table", DataTable).focus()
            await pilot.press("e")
            app.screen.query_one("#export-kind", Select).value = kind
            app.screen.query_one("#export-format", Select).value = "json"
            await pilot.pause()
            app.screen.query_one("#export-path", Input).value = str(tmp_path / f"{kind}.json")
            app.screen.write()
            await pilot.pause()
        with pytest.raises(SystemExit):
            main(
                ["--home", str(runs_home.path), "export", *flags, "--format", "json", "-o", str(tmp_path / "cli.json")]
            )
        dialog, cli = (tmp_path / f"{kind}.json").read_text(), (tmp_path / "cli.json").read_text()
        assert dialog == cli and len(dialog) > 100, kind
    history = json.loads((tmp_path / "history.json").read_text())
    assert list(history[0]["class_acc"])[:2] == ["airplane", "automobile"]  # keyed by class name


async def test_delete_asks_first(runs_home):
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.store.run(4) is not None
        await pilot.press("d", "y")
        await pilot.pause()
        assert app.store.run(4) is None and app.store.run(3) is not None
        assert app.query_one("#runs-table", DataTable).row_count == 3


async def test_command_palette_offers_the_actions(home):
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Add to queue", "Export runs", "Compare selected runs", "Pause or resume the engine"} <= set(titles)


async def test_compare_of_two_groups_gives_the_difference_its_interval_and_welchs_p(home):
    from scipy import stats

    from tests.tui.conftest import finished_run

    store = home.store()
    finals = {0.001: (60.0, 61.0, 62.5), 0.01: (64.0, 66.0, 65.5)}
    groups = {lr: [finished_run(store, accs=(50.0, acc), seed=seed, lr=lr) for seed, acc in enumerate(values)]
              for lr, values in finals.items()}  # fmt: skip
    store.close()
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(CompareScreen(groups=list(groups.values())))
        await pilot.pause()
        table = app.screen.query_one("#compare-table")
        rows = {str(r[0]): [str(c) for c in r[1:]] for r in map(table.get_row_at, range(table.row_count))}
        expected = stats.ttest_ind(finals[0.01], finals[0.001], equal_var=False)
        low, high = expected.confidence_interval(0.95)
        assert rows["[b]test_acc − first[/b]"] == [
            "(the first)",
            f"+{65.1667 - 61.1667:.2f} [{low:+.2f}, {high:+.2f}] p={expected.pvalue:.3g}",
        ]


async def test_what_runs_ran_on_is_shown_in_detail_marked_in_groups_and_diffed_in_compare(home, tmp_path):
    from tests.tui.conftest import finished_run

    environment = {"torch": "2.14.1", "gpu": "NVIDIA H200", "host": "a", "python": "3.11.7"}
    store = home.store()
    for seed, torch_version in enumerate(["2.14.1", "2.14.1", "2.11.0"]):
        finished_run(store, accs=(60.0 + seed,), seed=seed, environment=environment | {"torch": torch_version})
    for seed in range(2):
        finished_run(store, accs=(50.0 + seed,), seed=seed, lr=0.01, environment=environment | {"host": f"h{seed}"})
    store.close()
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RunDetailScreen(3))
        await pilot.pause()
        line = str(app.screen.query_one("#detail-environment").render())
        assert "torch 2.11.0" in line and "GPU NVIDIA H200" in line and "host a" in line
        app.pop_screen()
        await pilot.press("4")
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("g")
        await wait_until(pilot, lambda: app.query_one(RunsView).grouped)
        view = app.query_one(RunsView)
        marks = {row["lr"]: view.cells(row, ["n"])[1] for row in view.rows}
        assert str(marks[0.001]) == "3†" and str(marks[0.01]) == "2"  # a host's name alone does not mark
        assert "environments differ" in str(app.query_one("#runs-count").render())
        app.push_screen(CompareScreen(groups=[[1, 2, 3], [4, 5]]))
        await pilot.pause()
        title = str(app.screen.query_one("#compare-title").render())
        assert "environments differ: torch, host" in title
        app.pop_screen()
        await pilot.press("e")
        app.screen.query_one("#export-plus-minus", Select).value = "ci"
        app.screen.query_one("#export-path", Input).value = str(tmp_path / "groups.md")
        await pilot.pause()
        app.screen.write()
        await pilot.pause()
        text = (tmp_path / "groups.md").read_text()
        assert "(mean ± 95% CI)" in text and "| 3† |" in text


async def test_p_marks_the_runs_on_the_pareto_front_of_accuracy_and_time(runs_home):
    import sqlite3

    from tests.store.test_pareto import by_hand

    with sqlite3.connect(runs_home.db_path) as db:
        db.execute("UPDATE runs SET seconds = CASE id WHEN 1 THEN 30 WHEN 2 THEN 20 WHEN 3 THEN 25 END")
        rows = db.execute("SELECT id, test_acc, seconds FROM runs WHERE status = 'finished' ORDER BY id").fetchall()
    expected = {rows[i][0] for i in by_hand([(a, s) for _, a, s in rows], ["maximize", "minimize"])}
    app = CifarApp(runs_home, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        app.query_one("#runs-table", DataTable).focus()
        await pilot.press("p")
        await pilot.pause()
        table = app.query_one("#runs-table", DataTable)
        marked = {
            int(str(table.get_row_at(i)[1])) for i in range(table.row_count) if str(table.get_row_at(i)[0]) == "◆"
        }
        assert marked == expected and 0 < len(marked) < 3  # run 1 (61.5%, 30 s) loses to run 3 (62%, 25 s)
        assert f"the Pareto front of test acc. and time: {len(expected)}" in str(app.query_one("#runs-count").render())
        await pilot.press("p")
        await pilot.pause()
        assert all(str(table.get_row_at(i)[0]) != "◆" for i in range(table.row_count))
