"""`cifar-tui importance FILTER`: the ranked table (or JSON) of the store's importances, one line
for what cannot be answered, and the hint when the runs are few."""

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
