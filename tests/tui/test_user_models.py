"""Models from the user's own files, as a user meets them: the command line, a worker, resume,
the New form, the detail and compare screens."""

import signal
import sqlite3

import pytest
from textual.widgets import Input, Static

from cifar_tui.engine.config import make_config
from tests.engine.test_user_model import NET
from tests.helpers import cli_process, query, wait_for
from tests.tui.conftest import finished_run

QUICK = ("--dataset", "synthetic", "--device", "cpu")


@pytest.fixture
def net_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(NET)
    return tmp_path


@pytest.mark.slow
def test_a_failing_model_fails_its_run_and_the_worker_goes_on(net_dir):
    home = net_dir / "home"
    for model in ("net.py:Boom", "net.py:Flat", "net.py:Net"):
        assert (
            cli_process(home, "queue", "add", *QUICK, "--model", model, "--epochs", "1", "--limit-batches", "5").wait()
            == 0
        )
    worker = cli_process(home, "worker", "--until-empty", cwd=net_dir)
    worker.communicate(timeout=180)
    assert worker.returncode == 0
    rows = query(home, "SELECT model, status, error, error_detail FROM runs ORDER BY id")
    (boom_model, boom, boom_error, boom_detail), (_, flat, flat_error, _), (net_model, net, _, _) = rows
    assert (boom, flat, net) == ("failed", "failed", "finished")
    assert boom_error == "ValueError: boom in forward" and 'raise ValueError("boom in forward")' in boom_detail
    assert flat_error.startswith("model: Flat returned shape (2, 16, 4, 4) for 2 images")
    assert boom_model.startswith("net.py:Boom@") and net_model.startswith("net.py:Net@")
    assert query(home, "SELECT count(*) FROM losses WHERE run_id = 2") == [(0,)]  # failed before training


@pytest.mark.slow
def test_resume_trains_the_recorded_source_after_the_file_was_edited(net_dir):
    home = net_dir / "home"
    run = cli_process(home, "run", *QUICK, "--model", "net.py:Net", "--epochs", "3", "--limit-batches", "150")

    def one_epoch_done():
        try:
            return query(home, "SELECT epochs_done FROM runs WHERE id = 1") == [(1,)]
        except sqlite3.OperationalError:  # the run has not made its home yet
            return False

    wait_for(one_epoch_done, 180)
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=60)
    assert query(home, "SELECT status FROM runs WHERE id = 1") == [("cancelled",)]
    # Wider layers: today's file could not load the checkpoint's weights; and then not even parse.
    (net_dir / "net.py").write_text(NET.replace("width=16", "width=24") + "\nthis is not python\n")
    resumed = cli_process(home, "resume", "1")
    _, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err
    assert query(home, "SELECT status, epochs_done FROM runs WHERE id = 1") == [("finished", 3)]
    shown = cli_process(home, "show", "1", "--source")
    out, _ = shown.communicate(timeout=60)
    assert out == NET


@pytest.mark.slow
def test_show_models_and_models_check_speak_of_the_file(net_dir, capsys):
    from tests.tui.test_cli import cifar_tui as in_process

    home = str(net_dir / "home")
    status, out, err = in_process(capsys, "--home", home, "models", "check", "net.py:Net", "--device", "cpu")
    assert status == 0, err
    assert "net.py:Net@" in out and "3x32x32" in out and "forward ms" in out
    status, _, err = in_process(capsys, "--home", home, "models", "check", "net.py:Flat", "--device", "cpu")
    assert status == 1 and "Flat returned shape (2, 16, 4, 4)" in err
    status, _, err = in_process(capsys, "--home", home, "models", "check", "net.py:Missing")
    assert status == 2 and err.strip().endswith(
        "net.py defines no Missing (it defines Boom, Flat, Net, NoClasses, tiny)"
    )
    status, _, err = in_process(capsys, "--home", home, "queue", "add", "--model", "nope.py:Net")
    assert status == 2 and "model: no file nope.py" in err
    status, out, _ = in_process(
        capsys, "--home", home, "queue", "add", "--model", "net.py:Net,seed-cnn", "--seed", "0..1"
    )
    assert status == 0 and len(out.split()) == 4  # a sweep over a file's model and a built-in one
    status, out, _ = in_process(capsys, "--home", home, "models", "--json")
    assert '"name": "net.py:Net@' in out and '"family": "your file"' in out
    status, out, _ = in_process(capsys, "--home", home, "show", "1")
    assert "model_source" in out and "show --source prints it" in out and "class Net" not in out
    status, _, err = in_process(capsys, "--home", home, "show", "3", "--source")
    assert status == 2 and "trains the built-in model seed-cnn" in err


def user_run(store, source, name, accs=(40.0, 60.0)):
    return finished_run(store, accs=accs, model="net.py:Net", model_source=source, name=name)


async def test_compare_shows_how_two_runs_sources_differ(tmp_path):
    from cifar_tui.tui.app import CifarApp
    from cifar_tui.tui.screens.compare import CompareScreen
    from cifar_tui.tui.worker.home import Home

    home = Home(tmp_path)
    store = home.store()
    a = user_run(store, NET, "narrow")
    b = user_run(store, NET.replace("width=16", "width=24"), "wide")
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(CompareScreen([a, b]))
        await pilot.pause()
        diff = str(app.screen.query_one("#compare-source-diff", Static).render())
        assert "model source differs" in diff
        assert "-    def __init__(self, num_classes, dropout=0.0, width=16):" in diff
        assert "+    def __init__(self, num_classes, dropout=0.0, width=24):" in diff
        table = app.screen.query_one("#compare-table")
        assert [str(cell) for cell in table.get_row_at(0)][0] == "source"


async def test_the_detail_screen_shows_the_traceback_and_the_source(tmp_path):
    from cifar_tui.engine.events import RunFailed
    from cifar_tui.store.recorder import record
    from cifar_tui.tui.app import CifarApp
    from cifar_tui.tui.screens.run_detail import RunDetailScreen
    from cifar_tui.tui.worker.home import Home

    home = Home(tmp_path)
    store = home.store()
    run_id = store.enqueue(make_config(model="net.py:Net", model_source=NET).to_dict())
    store.claim(run_id)
    with store.write():
        record(
            store,
            RunFailed(run_id, "ValueError: boom", 'Traceback:\n  File "net.py@abc", line 3\n\x1b[31mValueError: boom'),
        )
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(RunDetailScreen(run_id))
        await pilot.pause()
        detail = str(app.screen.query_one("#detail-error-detail", Static).render())
        assert 'File "net.py@abc", line 3' in detail and "\\x1b[31m" in detail  # control characters shown, not obeyed
        await pilot.press("s")
        await pilot.pause()
        assert app.screen.query_one("#source-text").text == NET
    from cifar_tui.tui.screens.source_view import SourceScreen

    async with CifarApp(home, start_engine=False).run_test(size=(100, 30)) as pilot:
        pilot.app.push_screen(SourceScreen("hostile", "x = '\x1b[2J'\r\ny = 1\n"))
        await pilot.pause()
        assert pilot.app.screen.query_one("#source-text").text == "x = '\\x1b[2J'\ny = 1\n"


async def test_the_new_form_takes_a_model_file_and_says_what_is_wrong_beside_it(net_dir):
    from cifar_tui.tui.app import CifarApp
    from cifar_tui.tui.worker.home import Home

    home = Home(net_dir / "home")
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("1")
        field = app.query_one("#field-model_file", Input)
        field.value = "net.py:Nope"
        app.query_one("#field-dataset").value = "synthetic"
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = app.query_one("#error-model_file", Static)
        assert error.has_class("error") and "net.py defines no Nope" in str(error.render())
        field.value = "net.py:Net"
        await pilot.press("ctrl+s")
        await pilot.pause()
        [queued] = app.store.queue()
        assert queued["model"].startswith("net.py:Net@") and queued["config"]["model_source"] == NET
        # Clone: the form names the file, and the clone trains the recorded source, not today's file.
        (net_dir / "net.py").write_text("edited")
        app.clone_run(queued["id"])
        await pilot.pause()
        assert field.value == "net.py:Net"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert [run["config"]["model_source"] for run in app.store.queue()] == [NET, NET]
