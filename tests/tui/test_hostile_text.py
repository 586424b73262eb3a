"""Text from the store is data: names full of markup, escapes, quotes and SQL pass through every
output literally, and none of them can crash a command or the app."""

import csv
import io
import json
import sqlite3

import pytest
from textual.widgets import DataTable

from cifar_tui.engine.config import make_config
from cifar_tui.store.export import latex_text
from cifar_tui.store.runs import RunStore
from cifar_tui.tui.app import CifarApp
from cifar_tui.tui.safe_text import printable
from tests.tui.test_cli import cifar_tui, home  # noqa: F401 (home is a fixture)

# Names a user can type: accepted and shown exactly as typed.
TYPED = [
    "[/]",
    "[bold red]loud[/bold red] [link=https://example.com]click[/link]",
    "*x* <i>y</i> [a](b) `c` | d \\",
    "it's \"quoted\"'; DROP TABLE runs; --",
    ("名前 اسم имя ονομα 🚀 " * 12)[:200],
    "trailing backslash \\",
]
# Names an older store (or a hand edit) may hold: shown with their control characters escaped.
STORED = ["\x1b]0;owned\x07title", "clear\x1b[2Jscreen", "bell\x07 and\rreturn"]


def hostile_store(home, capsys):
    for name in TYPED:
        status, _, err = cifar_tui(capsys, "queue", "add", "--dataset", "synthetic", "--name", name)
        assert status == 0, err
    store = RunStore(home / "runs.db")
    for name in STORED:
        config = make_config(dataset="synthetic").to_dict()
        run_id = store.enqueue({**config, "name": "placeholder"})
        with store.write():  # as an older version wrote it: no check on the name
            store.db.execute(
                "UPDATE runs SET name = ?, config = json_set(config, '$.name', ?), status = 'failed', "
                "error = ? WHERE id = ?",
                [name, name, f"boom [/] {name}", run_id],
            )
    store.close()
    return TYPED + STORED


@pytest.mark.parametrize(
    "name, character",
    [("\x1b[2J", "U+001B"), ("a\tb", "U+0009"), ("zero\u200bwidth", "U+200B"), ("two\nlines", "U+000A")],
)
def test_control_characters_in_a_name_are_refused_with_one_line(home, capsys, name, character):
    status, out, err = cifar_tui(capsys, "queue", "add", "--dataset", "synthetic", "--name", name)
    assert status == 2 and out == ""
    assert (
        err
        == f"cifar-tui: error: name: must be printable text; it holds the invisible or control character {character}\n"
    )


@pytest.mark.parametrize("command", [("runs",), ("queue", "list"), ("show", "1"), ("show", "8"), ("show", "9")])
def test_tables_show_hostile_names_literally(home, capsys, command):
    names = hostile_store(home, capsys)
    status, out, err = cifar_tui(capsys, *command)
    assert status == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    if command == ("runs",):
        assert "[/]" in out and "[bold red]loud[/bold red]" in out.replace("\n", "")
        assert "\\x1b]0;owned\\x07title" in out.replace("│", "").replace(" ", "").replace("\n", "") or "\\x1b" in out
    if command == ("show", "9"):
        assert printable(names[-1]) in out and "boom [/]" in out


@pytest.mark.parametrize("fmt", ["csv", "json", "md", "latex"])
def test_exports_keep_names_exactly_as_stored(home, capsys, fmt, tmp_path):
    names = hostile_store(home, capsys)
    target = tmp_path / f"runs.{fmt}"
    status, _, err = cifar_tui(capsys, "export", "--format", fmt, "-o", str(target))
    assert status == 0, err
    with open(target, encoding="utf-8", newline="") as f:  # newline="": a \r inside a name stays a \r
        text = f.read()
    if fmt == "json":
        assert sorted(row["name"] for row in json.loads(text)) == sorted(names)
    elif fmt == "csv":
        assert sorted(row["name"] for row in csv.DictReader(io.StringIO(text))) == sorted(names)
    elif fmt == "md":
        assert names[4][:20] in text  # mixed scripts arrive intact
    else:  # beyond Latin-1, plain pdflatex has no glyph: the code point is written
        assert latex_text(names[4][:20]) in text and "[U+540D]" in text


@pytest.mark.slow
def test_export_writes_utf8_whatever_the_locale(home, capsys, tmp_path):
    import subprocess
    import sys

    hostile_store(home, capsys)
    target = tmp_path / "out.csv"
    env = {
        "CIFAR_TUI_HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "LC_ALL": "C",
        "LANG": "C",
        "PYTHONUTF8": "0",
        "PYTHONIOENCODING": "ascii",
        "PYTHONPATH": ":".join(sys.path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cifar_tui.tui.cli", "export", "-o", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "名前" in target.read_text(encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "cifar_tui.tui.cli", "runs"], env=env, capture_output=True, timeout=120
    )
    assert result.returncode == 0 and b"Traceback" not in result.stderr  # shown as escapes, not a crash


@pytest.mark.slow  # 5 s: the fast tier stays under 3 minutes
async def test_the_app_shows_hostile_names_literally(home, capsys):
    from cifar_tui.tui.safe_text import middle_cut
    from cifar_tui.tui.views.runs_view import NAME_WIDTH
    from cifar_tui.tui.worker.home import Home

    names = hostile_store(home, capsys)
    app = CifarApp(Home(home), start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("4")
        table = app.query_one("#runs-table", DataTable)
        await pilot.pause(0.3)
        shown = {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
        assert shown == {middle_cut(printable(name), NAME_WIDTH) for name in names}  # long ones cut
        await pilot.press("w")  # and whole
        await pilot.pause()
        shown = {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
        assert shown == {printable(name) for name in names}
        await pilot.press("2")
        await pilot.pause(0.3)
        await pilot.press("4", "enter")  # the detail screen of the newest (a stored control-character name)
        await pilot.pause(0.3)
        title = str(app.screen.query_one("#detail-title").render())
        assert "bell\\x07 and\\x0dreturn" in title and "boom [/]" in title
        await pilot.press("escape", "3")
        await pilot.pause(1.2)  # the follower shows the newest ended run on Live
        assert app.is_running


def test_a_store_with_an_older_config_is_still_listed(home, capsys):
    hostile_store(home, capsys)
    with sqlite3.connect(home / "runs.db") as conn:
        conn.execute('UPDATE runs SET config = \'{"model": "gone"}\' WHERE id = 1')
    assert cifar_tui(capsys, "show", "1")[0] == 0
    assert cifar_tui(capsys, "runs")[0] == 0
