"""Each screen's layout pinned as an SVG snapshot (update with: pytest --snapshot-update)."""

from dataclasses import replace

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.engine.events import EpochEnd, Losses, RunStarted
from cifar_tui.tui.app import CifarApp
from cifar_tui.tui.screens.compare import CompareScreen
from cifar_tui.tui.screens.export_dialog import ExportScreen
from cifar_tui.tui.screens.run_detail import RunDetailScreen
from cifar_tui.tui.views.live_view import LiveView
from tests.tui.conftest import finished_run

pytestmark = pytest.mark.slow  # the full tier: every screen drawn and compared


def live_events():
    config = make_config("seed-cnn", dataset="synthetic", device="cpu", epochs=3, name="demo")
    yield RunStarted(7, config.to_json(), "cpu", "2 CPU threads", 43626, 400, 1200)
    for step in range(0, 1000, 50):
        epoch = step // 400 + 1
        yield Losses(
            7, epoch, step, tuple(0.3 + 2.0 / (1 + (step + i) / 40) + 0.1 * ((step + i) % 7) / 7 for i in range(50))
        )
        if (step + 50) % 400 == 0:
            yield EpochEnd(
                7,
                epoch,
                step + 50,
                1.2 / epoch,
                0.9 / epoch,
                70.0 + 8 * epoch,
                tuple(60.0 + 8 * epoch + 2 * c for c in range(10)),
                9.5,
                6100.0 + 200 * epoch,
                lr=1e-3,
                confusion=confusion(epoch),
                wrong_labels=(3, 5, 5, 3, 2, 0, 9, 1, 4, 7, 6, 2),
                wrong_images=pictures(),
            )


def confusion(epoch):
    """A made-up 10x10 matrix that sharpens with each epoch: 1,000 test images per class."""
    counts = []
    for true in range(10):
        right = 600 + 100 * epoch + 10 * true
        row = [(1000 - right) // 9] * 10
        row[true] = right
        row[(true + 1) % 10] += 1000 - sum(row)
        counts += row
    return tuple(counts)


def pictures():
    """Six 16x16 RGB images (smooth colour gradients, one per hue), as the engine records them."""
    import base64

    import numpy as np

    y, x = np.mgrid[0:16, 0:16]
    images = []
    for hue in range(6):
        red = (x * 16 + hue * 40) % 256
        green = (y * 16 + hue * 25) % 256
        blue = ((x + y) * 8 + hue * 60) % 256
        images.append(np.stack([red, green, blue], axis=-1).astype(np.uint8))
    return base64.b64encode(np.stack(images).tobytes()).decode("ascii")


async def panels_drawn(pilot, view):
    """Until the epoch panels are drawn at their laid-out size (a loaded machine lays out late)."""
    for _ in range(100):
        view.redraw_text()
        if not view.query_one("#live-panels").display or view._drawn_panels[2]:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def show(tab):
    async def run_before(pilot):
        pilot.app.action_show_tab(tab)
        await pilot.pause(0.3)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 48)])
def test_live(snap_compare, snapshot_home, size):
    app = CifarApp(snapshot_home, start_engine=False)

    async def run_before(pilot):
        for event in live_events():
            app.live.apply(event)
        app.action_show_tab("live")
        await pilot.pause()
        view = app.query_one(LiveView)
        view.redraw_text()  # now, not at the timers' next ticks: the snapshot must not depend on timing
        view.redraw_chart()
        await pilot.pause(0.2)
        await panels_drawn(pilot, view)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


HUNDRED = tuple(f"{kind}_{i}" for i, kind in enumerate(("maple_tree", "oak_tree", "pine_tree", "tulip", "rose") * 20))


def hundred_class_events():
    """Live's events for a CIFAR-100 run: the same losses, a hundred classes, with names."""
    for event in live_events():
        if isinstance(event, RunStarted):
            event = replace(event, config_json=event.config_json.replace('"synthetic"', '"cifar100"'), classes=HUNDRED)
        elif isinstance(event, EpochEnd):
            counts = [0] * 10_000
            for true in range(100):
                right = 40 + 10 * event.epoch + true % 37
                counts[true * 100 + true] = right
                counts[true * 100 + (true + 1 + true % 3) % 100] = 100 - right
            event = replace(
                event,
                class_acc=tuple(counts[i * 101] for i in range(100)),
                confusion=tuple(counts),
                wrong_labels=(3, 4, 17, 18, 99, 0, 41, 42, 5, 7, 60, 61),
            )
        yield event


@pytest.mark.parametrize("size", [(100, 30), (160, 48)])
def test_live_with_a_hundred_classes(snap_compare, snapshot_home, size):
    app = CifarApp(snapshot_home, start_engine=False)

    async def run_before(pilot):
        for event in hundred_class_events():
            app.live.apply(event)
        app.action_show_tab("live")
        await pilot.pause()
        if size[0] < 160:
            await pilot.press("v")  # the panels, one key away in a small terminal
        view = app.query_one(LiveView)
        view.redraw_chart()
        await panels_drawn(pilot, view)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_live_panels_one_key_away_in_a_small_terminal(snap_compare, snapshot_home):
    app = CifarApp(snapshot_home, start_engine=False)

    async def run_before(pilot):
        for event in live_events():
            app.live.apply(event)
        app.action_show_tab("live")
        await pilot.pause()
        await pilot.press("v")
        view = app.query_one(LiveView)
        await panels_drawn(pilot, view)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_help_screen(snap_compare, snapshot_home):
    async def run_before(pilot):
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(CifarApp(snapshot_home, start_engine=False), terminal_size=(100, 50), run_before=run_before)


def test_stopping_a_training_run_asks(snap_compare, snapshot_home):
    app = CifarApp(snapshot_home, start_engine=False)

    async def run_before(pilot):
        store = app.store
        run_id = store.enqueue(make_config(dataset="synthetic").to_dict())
        store.claim(run_id, worker="elsewhere:1")
        for event in live_events():
            app.live.apply(event if getattr(event, "run_id", None) != 7 else replace(event, run_id=run_id))
        app.action_show_tab("live")
        await pilot.pause()
        view = app.query_one(LiveView)
        view.redraw_chart()  # the view behind the dialog drawn now, not whenever the timers fire
        await panels_drawn(pilot, view)
        await pilot.press("c")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_new_form(snap_compare, snapshot_home):
    assert snap_compare(CifarApp(snapshot_home, start_engine=False), terminal_size=(100, 30), run_before=show("new"))


def test_queue(snap_compare, snapshot_home):
    store = snapshot_home.store()
    store.enqueue(make_config("seed-cnn", dataset="synthetic", name="first").to_dict())
    store.enqueue(make_config("seed-resnet", dataset="synthetic", name="second").to_dict())
    assert snap_compare(CifarApp(snapshot_home, start_engine=False), terminal_size=(100, 30), run_before=show("queue"))


@pytest.mark.parametrize("size", [(100, 30), (200, 60)])
def test_runs(snap_compare, runs_home, size):
    assert snap_compare(CifarApp(runs_home, start_engine=False), terminal_size=size, run_before=show("runs"))


LONG_EVAL_ON = (
    "cifar10.1:/data/shared/benchmarks/cifar-10.1/v6/npy,"
    "cifar10-c:/data/shared/benchmarks/robustness/CIFAR-10-C#gaussian_noise"
)


@pytest.mark.parametrize("size", [(100, 30), (160, 48)])
def test_runs_keep_their_results_on_screen_beside_a_long_path(snap_compare, runs_home, size, monkeypatch):
    """The results come first and a long value is cut in the middle: at 100x30 a row still
    shows its id, status and test accuracy."""
    from cifar_tui.engine import eval_sets

    monkeypatch.setattr(eval_sets, "checked", lambda text, cwd, dataset: text)  # paths the snapshot names
    store = runs_home.store()
    finished_run(store, accs=(44.0, 58.0, 63.25), eval_on=LONG_EVAL_ON, name="held-out sets")
    store.close()
    assert snap_compare(CifarApp(runs_home, start_engine=False), terminal_size=size, run_before=show("runs"))


def test_runs_grouped(snap_compare, runs_home):
    store = runs_home.store()
    for seed in (1, 2):  # two more seeds of the baseline: a group of three
        finished_run(store, accs=(40.0 + seed, 55.0 + seed, 61.0 + seed), seed=seed, name=f"baseline s{seed}")
    store.close()

    async def grouped(pilot):
        await pilot.press("4")
        await pilot.pause()
        await pilot.press("g")
        await pilot.pause()

    assert snap_compare(CifarApp(runs_home, start_engine=False), terminal_size=(130, 20), run_before=grouped)


@pytest.mark.parametrize("screen", ["detail", "compare", "export"])
def test_dialogs(snap_compare, runs_home, screen):
    app = CifarApp(runs_home, start_engine=False)

    async def run_before(pilot):
        app.action_show_tab("runs")
        await pilot.pause(0.2)
        if screen == "detail":
            app.push_screen(RunDetailScreen(1))
        elif screen == "compare":
            app.push_screen(CompareScreen([1, 2, 3]))
        else:
            app.push_screen(ExportScreen(folder=runs_home.path))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


@pytest.fixture
def sweep_home(snapshot_home):
    """Eight runs of a sweep over lr (log), batch size and an --eval-on folder whose name is
    hostile markup; one pruned-like failed run, drawn dim."""
    hostile = snapshot_home.path / "[red]x[/red] $y"
    hostile.mkdir(parents=True)
    store = snapshot_home.store()
    for index, (lr, batch_size) in enumerate(
        [(1e-4, 32), (3e-4, 64), (1e-3, 32), (3e-3, 64), (1e-2, 32), (3e-2, 64), (1e-3, 64)]
    ):
        accs = (40.0 + 3 * index % 7, 50.0 + (index * 5) % 13)
        eval_on = f"folder:{hostile}" if index % 2 else ""
        finished_run(store, accs=accs, lr=lr, batch_size=batch_size, eval_on=eval_on, steps_per_epoch=20)
    failed = store.enqueue(make_config("seed-cnn", dataset="synthetic", lr=0.1, batch_size=32).to_dict())
    store.claim(failed)
    with store.write():
        store.db.execute("UPDATE runs SET status = 'failed', error = 'diverged' WHERE id = ?", [failed])
        store.db.execute("UPDATE runs SET seconds = 12 + (id * 7) % 9 WHERE status = 'finished'")  # time varies
    store.close()
    return snapshot_home


@pytest.mark.parametrize(
    ("size", "keys"),
    [((100, 30), ()), ((160, 48), ()), ((160, 48), ("o", "x"))],  # o, x: test_loss, and the lr axis hidden
    ids=["100x30", "160x48", "objective-and-hidden-axis"],
)
def test_compare_s_parallel_coordinates_and_importance(snap_compare, sweep_home, size, keys):
    pytest.importorskip("sklearn")
    app = CifarApp(sweep_home, start_engine=False)

    async def run_before(pilot):
        app.action_show_tab("runs")
        await pilot.pause(0.2)
        app.push_screen(CompareScreen(list(range(1, 9))))
        await pilot.pause(0.5)
        if keys:
            await pilot.press(*keys)
            await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
