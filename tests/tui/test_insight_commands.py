"""`cifar-tui importance FILTER`: the ranked table (or JSON) of the store's importances, one line
for what cannot be answered, the hint when the runs are few; `runs --pareto`: the front, as a
by-hand front has it."""

import json

import pytest

from tests.store.test_importance import sweep  # noqa: F401 (a fixture)
from tests.tui.test_cli import cifar_tui

pytest.importorskip("sklearn")


@pytest.fixture
def home(sweep, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path))
    return tmp_path


def test_the_table_ranks_the_fields_and_json_carries_the_same(home, capsys):
    status, out, err = cifar_tui(capsys, "importance", "--json")
    assert status == 0, err
    found = json.loads(out)
    assert list(found["importances"])[0] == "lr" and found["used"] == 40 and found["left_out"] == 1
    assert sum(found["importances"].values()) == pytest.approx(1)
    status, out, err = cifar_tui(capsys, "importance")
    assert status == 0 and err == ""
    lines = [line for line in out.splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in lines] == list(found["importances"])
    assert "from 40 finished runs" in out and "1 run left out" in out
    assert lines[0].count("█") > lines[-1].count("█")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--objective", "lr"], "'lr' is no result column"),
        (["lr=0.5"], "0 finished runs with a test_acc of 1 the filter keeps"),
        (["lr<<"], "filter"),
    ],
)
def test_what_cannot_be_answered_is_one_line_and_exit_2(home, capsys, args, words):
    status, out, err = cifar_tui(capsys, "importance", *args)
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1 and out == "", err


def test_few_runs_get_a_one_line_hint(home, capsys):
    status, out, err = cifar_tui(capsys, "importance", "lr=0.0001,0.01", "optimizer=adam", "batch_size=64")
    assert (
        status == 0
        and err.strip() == "note: only 4 finished runs for 2 fields: a hint, not a finding (10 or more say more)"
    )


def test_runs_pareto_keeps_the_front_each_column_better_its_way(home, capsys):
    import sqlite3

    from tests.store.test_pareto import by_hand

    with sqlite3.connect(home / "runs.db") as db:
        db.execute("UPDATE runs SET seconds = (id * 37) % 11 + 1")
        rows = db.execute("SELECT id, test_acc, seconds FROM runs WHERE status = 'finished' ORDER BY id").fetchall()
    expected = [rows[i][0] for i in by_hand([(a, s) for _, a, s in rows], ["maximize", "minimize"])]
    status, out, err = cifar_tui(capsys, "runs", "--pareto", "test_acc,seconds", "--json")
    assert status == 0, err
    assert sorted(r["id"] for r in json.loads(out)) == expected and 0 < len(expected) < len(rows)
    status, out, _ = cifar_tui(capsys, "runs", "--pareto", "test_acc,seconds")
    assert f"The Pareto front of test_acc,seconds: {len(expected)} runs of {len(rows)} finished" in " ".join(
        out.split()
    )
    for args, words in (
        (["--pareto", "test_acc,lr"], "'lr' is no result column"),
        (["--pareto", "test_acc"], "give two result columns or more"),
        (["--pareto", "test_acc,seconds", "--group"], "leave out --group"),
    ):
        status, _, err = cifar_tui(capsys, "runs", *args)
        assert status == 2 and words in err, err
