"""A word when a run ends (tui/worker/notify.py): a local command and a local HTTP server on
127.0.0.1 told each ending run's summary, a hook that hangs or fails costing a line and never a
wait, and a worker process that tells of its runs."""

import json
import shlex
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from cifar_tui.engine.events import Losses, RunFailed, RunFinished, RunStarted
from cifar_tui.store.runs import RunStore
from cifar_tui.tui.worker import notify
from cifar_tui.tui.worker.notify import Notifier, summary
from tests.helpers import cli_process, finish, query
from tests.tui.conftest import finished_run
from tests.tui.test_cli import cifar_tui


@pytest.fixture
def store(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    finished_run(store, accs=(40.0, 61.5), name="baseline $x$")
    run_id = store.enqueue(store.run(1)["config"])
    store.claim(run_id, worker="w:1")
    with store.write():
        store.db.execute("UPDATE runs SET status = 'failed', error = 'boom in forward' WHERE id = 2")
    yield store
    store.close()


def test_a_command_is_told_each_ending_run_s_summary_on_its_stdin(tmp_path, store):
    told = tmp_path / "told.jsonl"
    notifier = Notifier(f"sh -c {shlex.quote(f'cat >> {told}; echo >> {told}')}", tmp_path, tmp_path / "runs.db")
    notifier(RunStarted(1, "{}", "cpu", "2 CPU threads", 1, 1, 1))  # not an ending: nothing to tell
    notifier(Losses(1, 1, 0, (2.3,)))
    notifier(RunFinished(1, 61.5, 1.0, 30.0))
    notifier(RunFailed(2, "boom in forward"))
    notifier.close()
    lines = [json.loads(line) for line in told.read_text().splitlines()]
    assert lines == [summary(store.run(1), tmp_path), summary(store.run(2), tmp_path)]
    assert lines[0]["status"] == "finished" and lines[0]["test_acc"] == 61.5 and lines[0]["name"] == "baseline $x$"
    assert lines[0]["text"] == "cifar-tui: run 1 (baseline $x$) finished: test acc 61.50%"
    assert lines[1]["text"].endswith("failed: boom in forward") and lines[1]["home"] == str(tmp_path)


class Hook(BaseHTTPRequestHandler):
    bodies: list = []
    release = threading.Event()
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Hook.release.wait(10)  # a hook that hangs until the test lets it answer
        Hook.bodies.append((self.headers["Content-Type"], body))
        self.send_response(Hook.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Hook.bodies, Hook.release, Hook.status = [], threading.Event(), 200
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    Hook.release.set()
    server.shutdown()


def test_a_webhook_is_posted_the_summary_and_a_hanging_one_never_holds_the_worker(
    tmp_path, store, webhook, capsys, monkeypatch
):
    monkeypatch.setattr(notify, "TIMEOUT_S", 0.5)
    notifier = Notifier(webhook, tmp_path, tmp_path / "runs.db")
    notifier(RunFinished(1, 61.5, 1.0, 30.0))  # the hook hangs on it: the call has returned all the same
    notifier(RunFailed(2, "boom in forward"))
    notifier.close(timeout=5)  # each post gave up after TIMEOUT_S
    err = capsys.readouterr().err
    assert err.count("cifar-tui: note: notify: ") == 2 and "failed for run 1: " in err and "timed out" in err
    Hook.release.set()
    notifier = Notifier(webhook, tmp_path, tmp_path / "runs.db")
    notifier(RunFinished(1, 61.5, 1.0, 30.0))
    notifier.close()
    assert Hook.bodies[-1] == ("application/json", summary(store.run(1), tmp_path))
    Hook.status = 500
    notifier = Notifier(webhook, tmp_path, tmp_path / "runs.db")
    notifier(RunFinished(1, 61.5, 1.0, 30.0))
    notifier.close()
    assert "failed for run 1: HTTPError: HTTP Error 500" in capsys.readouterr().err


def test_a_target_that_is_no_command_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path))
    status, _, err = cifar_tui(capsys, "worker", "--until-empty", "--notify", "'unclosed")
    assert status == 2 and err.strip().splitlines() == [
        'cifar-tui: error: notify: "\'unclosed" is no command (No closing quotation)'
    ]


@pytest.mark.slow
def test_a_worker_tells_the_home_s_hook_of_each_run_it_ends(tmp_path):
    home, told = tmp_path / "home", tmp_path / "told.jsonl"
    tiny = ("--dataset", "synthetic", "--device", "cpu", "--epochs", "1", "--limit-batches", "3")
    for seed in (0, 1):
        assert finish(cli_process(home, "queue", "add", *tiny, "--seed", str(seed)))[0] == 0
    hook = f"sh -c {shlex.quote(f'cat >> {told}; echo >> {told}')}"
    (home / "settings.json").write_text(json.dumps({"notify": hook}))  # the home's own setting
    status, out, err = finish(cli_process(home, "worker", "--until-empty"), timeout=180)
    assert status == 0, err
    lines = [json.loads(line) for line in told.read_text().splitlines()]
    assert sorted((line["id"], line["status"]) for line in lines) == [(1, "finished"), (2, "finished")]
    assert [line["test_acc"] for line in sorted(lines, key=lambda line: line["id"])] == [
        acc for (acc,) in query(home, "SELECT test_acc FROM runs ORDER BY id")
    ]


def test_the_app_rings_the_bell_and_shows_a_desktop_notification_of_an_ending(tmp_path, monkeypatch):
    from cifar_tui.tui.ending_notices import EndingNotices

    shown = tmp_path / "shown"
    fake = tmp_path / "bin" / "notify-send"  # the desktop's notifier, as far as the app can tell
    fake.parent.mkdir()
    shown.mkdir()  # a file each call: two notifications may be shown at once
    fake.write_text(f"#!/bin/sh\nprintf '%s|' \"$@\" > {shown}/$$\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    said, rang = [], []
    notices = EndingNotices(lambda text, **how: said.append(text), lambda: rang.append(True))
    notices(RunFinished(3, 61.5, 1.0, 30.0))
    notices(RunFailed(4, "[bold]boom[/bold]"))
    assert said == ["run 3 finished: test acc 61.50%", "run 4 failed: \\[bold]boom\\[/bold]"] and len(rang) == 2
    lines = []
    for _ in range(100):  # notify-send is not waited for
        lines = [path.read_text() for path in shown.iterdir()]
        if len(lines) == 2 and all(line.endswith("|") for line in lines):
            break
        threading.Event().wait(0.05)
    assert sorted(lines) == sorted(
        [
            "--app-name=cifar-tui|cifar-tui|run 3 finished: test acc 61.50%|",
            "--app-name=cifar-tui|cifar-tui|run 4 failed: [bold]boom[/bold]|",
        ]
    )
