"""Bad input that used to slip through gets one line and exit 2, naming what is wrong, and
nothing stored changes (issue 22, defect 7)."""

import json

import pytest
import torch

from tests.tui.test_cli import cifar_tui, home  # noqa: F401 (a fixture)


@pytest.mark.parametrize(
    "args, said",
    [
        (("runs", "--limit", "99999999999999999999"), "'--limit'"),
        (("export", "--losses", "--every", "99999999999999999999"), "'--every'"),
        (("runs", "status=bogus"), "filter: unknown status 'bogus'; known: queued, running"),
        (("runs", "id=-1"), "filter: run ids are whole numbers from 1"),
        (("runs", "id=1.5"), "filter: run ids are whole numbers from 1"),
        (("runs", "tag:"), "filter: tag: needs a name"),
        (("runs", "a\x1bb"), "holds the invisible or control character U+001B"),
        (("runs", "--sort", "-"), "sort: '-' names no field"),
        (("queue", "add", "--dataset", "synthetic", "--random", "3"), "random: nothing to draw"),
        (("queue", "add", "--random", "3", "--lr", "1e-3,3e-3"), "cannot draw 3 distinct points from 2"),
        (
            ("queue", "add", "--random", "3", "--lr", "0:1"),
            "lr: an interval is drawn log-uniformly: both ends must be > 0",
        ),
        (("queue", "add", "--random", "0", "--lr", "1e-4:1e-1"), "'--random'"),
    ],
)
def test_bad_input_is_refused_in_one_line(home, capsys, args, said):  # noqa: F811
    status, out, err = cifar_tui(capsys, "queue", "add", "--dataset", "synthetic")
    assert status == 0
    status, out, err = cifar_tui(capsys, *args)
    assert status == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert said in line and "Traceback" not in err
    status, out, _ = cifar_tui(capsys, "runs", "--json")
    assert [run["id"] for run in json.loads(out)] == [1]  # nothing queued, nothing lost


def test_random_draws_distinct_points(home, capsys):  # noqa: F811
    status, out, err = cifar_tui(capsys, "queue", "add", "--dataset", "synthetic", "--random", "4",
                                 "--lr", "1e-3,3e-3", "--seed", "0..1", "--json")  # fmt: skip
    assert status == 0, err
    status, out, _ = cifar_tui(capsys, "runs", "--json")
    points = {(run["lr"], run["seed"]) for run in json.loads(out)}
    assert points == {(lr, seed) for lr in (1e-3, 3e-3) for seed in (0, 1)}


@pytest.mark.skipif(torch.cuda.is_available(), reason="the line names this machine's devices: cpu here")
def test_a_device_no_worker_can_serve_is_warned_about_and_queue_list_shows_devices(home, capsys):  # noqa: F811
    status, out, err = cifar_tui(capsys, "queue", "add", "--dataset", "synthetic", "--device", "cuda:99")
    assert status == 0
    assert err.strip().splitlines() == [
        "cifar-tui: warning: no worker of this store can train on cuda:99 (this machine has cpu); "
        "its runs wait until a worker on such a device starts"
    ]
    status, out, err = cifar_tui(capsys, "queue", "add", "--dataset", "synthetic", "--device", "cpu")
    assert status == 0 and err == ""
    status, out, _ = cifar_tui(capsys, "queue", "list", "--json")
    assert [row["device"] for row in json.loads(out)] == ["cuda:99", "cpu"]
