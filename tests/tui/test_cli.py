import json
import sqlite3
import subprocess

import pytest

from cifar_tui.tui.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path))
    return tmp_path


def cifar_tui(capsys, *args):
    """(exit status, stdout, stderr) of the command line, in this process."""
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    out, err = capsys.readouterr()
    return caught.value.code, out, err


QUICK = ("--preset", "seed-cnn", "--dataset", "synthetic", "--epochs", "2", "--limit-batches", "4", "--device", "cpu")


@pytest.mark.slow
def test_run_records_a_finished_run(home, capsys):
    status, _, err = cifar_tui(capsys, "run", *QUICK, "--name", "first")
    assert status == 0, err
    assert "run 1 finished" in err
    status, out, _ = cifar_tui(capsys, "runs", "--json")
    [row] = json.loads(out)
    assert {k: row[k] for k in ("id", "name", "status", "model", "dataset", "epochs", "epochs_done")} == {
        "id": 1,
        "name": "first",
        "status": "finished",
        "model": "seed-cnn",
        "dataset": "synthetic",
        "epochs": 2,
        "epochs_done": 2,
    }
    assert {"test_acc", "test_loss", "best_test_acc", "images_per_s", "seconds", "error"} <= set(row)
    with sqlite3.connect(home / "runs.db") as conn:
        assert conn.execute("SELECT count(*), min(step), max(step) FROM losses").fetchone() == (8, 0, 7)
    for fmt, marker in [
        ("csv", "id,name,status"),
        ("json", '"status": "finished"'),
        ("md", "| 1 | first |"),
        ("latex", "\\begin{tabular}"),
    ]:
        status, out, _ = cifar_tui(capsys, "export", "--format", fmt)
        assert status == 0 and marker in out
    status, out, _ = cifar_tui(capsys, "show", "1")
    assert status == 0 and "xavier-uniform" in out and "Epochs" in out


def test_export_to_a_file(home, capsys, tmp_path):
    cifar_tui(capsys, "queue", "add", *QUICK)
    target = tmp_path / "runs.md"
    status, _, err = cifar_tui(capsys, "export", "--format", "md", "-o", str(target), "1")
    assert status == 0 and "wrote 1 rows" in err
    assert target.read_text().startswith("| Run | Name | Status |")


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "--lr", "-1"), "lr: must be > 0"),
        (("run", "--model", "no-such-model"), "model: unknown model 'no-such-model'; allowed: seed-cnn"),
        (("run", "--epochs", "many"), "epochs: must be an integer"),
        (("run", "--preset", "nope"), "preset: unknown preset 'nope'"),
        (("queue", "add", "--optimizer", "rmsprop"), "optimizer: unknown optimizer"),
        (("show", "42"), "run_id: no run with id 42"),
        (("show", "abc"), "'abc' is not a valid integer"),
        (("export", "--format", "xls"), "'xls' is not one of"),
        (("export", "7"), "run_ids: no run with id 7"),
        (("frobnicate",), "No such command 'frobnicate'"),
    ],
)
def test_bad_input_exits_2_with_one_line(home, capsys, args, message):
    status, out, err = cifar_tui(capsys, *args)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("cifar-tui: error: ") and message in err


def test_a_command_group_without_its_command_shows_its_help_not_an_escaped_error(home, capsys):
    status, out, err = cifar_tui(capsys, "queue")
    assert status == 2 and "error" not in err and "\\x0a" not in err
    assert err.startswith("Usage: cifar-tui queue") and "\n  add " in err and "\n  list " in err


def test_cuda_without_cuda_is_bad_input(home, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    status, _, err = cifar_tui(capsys, "run", *QUICK[:-2], "--device", "cuda")
    assert status == 2 and "device: cuda was asked for but CUDA is not available" in err


@pytest.mark.slow
def test_a_failed_run_exits_1_with_the_reason(home, capsys):
    archive = home / "data" / "cifar-10-python.tar.gz"  # a download cut short: no network needed
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"not a tarball")
    status, _, err = cifar_tui(capsys, "run", "--dataset", "cifar10", "--epochs", "1", "--device", "cpu")
    assert status == 1
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(f"cifar-tui: run 1 failed: {archive} is not a readable CIFAR-10 archive")
    )
    assert "Traceback" not in err


def test_queue_add_and_list(home, capsys):
    assert cifar_tui(capsys, "queue", "add", *QUICK)[1] == "1\n"
    assert cifar_tui(capsys, "queue", "add", "--preset", "seed-resnet", "--dataset", "synthetic")[1] == "2\n"
    status, out, _ = cifar_tui(capsys, "queue", "list", "--json")
    assert [(r["id"], r["model"], r["status"]) for r in json.loads(out)] == [
        (1, "seed-cnn", "queued"),
        (2, "seed-resnet", "queued"),
    ]


def test_a_non_database_home_is_refused(home, capsys):
    (home / "runs.db").write_text("not sqlite " * 100)
    status, _, err = cifar_tui(capsys, "runs")
    assert status == 1 and "is not a cifar-tui database" in err and err.count("\n") == 1


@pytest.mark.slow
def test_the_installed_command_runs_and_lists_every_command():
    from cifar_tui.tui.cli import cli

    result = subprocess.run(["cifar-tui", "--help"], capture_output=True, text=True)
    listed = [line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert result.returncode == 0 and listed == sorted(cli.commands) and len(listed) >= 18


def test_models_json_shows_the_tutorials_counts(home, capsys):
    status, out, _ = cifar_tui(capsys, "models", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    from cifar_tui.engine.models import MODELS

    assert status == 0 and list(rows) == list(MODELS) and len(rows) == 28
    assert {name: rows[name]["params"] for name in ("seed-cnn", "seed-resnet", "resnet18", "airbench", "resnet20")} == {
        "seed-cnn": 43_626,
        "seed-resnet": 175_258,
        "resnet18": 11_181_642,
        "airbench": 1_972_792,
        "resnet20": 269_722,
    }
    assert rows["inception_v3"]["input_size"] == 299 and rows["alexnet"]["input_size"] == 63
    assert all(row["description"] and row["family"] for row in rows.values())


def _patched_cli(home, patch, *args):
    import os
    import sys

    code = f"{patch}\nfrom cifar_tui.tui.cli import main\nmain()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, "CIFAR_TUI_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_an_unexpected_error_is_one_line_and_its_traceback_goes_to_the_log(home):
    patch = "import cifar_tui.store.runs as runs\nruns.RunStore.find = lambda self, *args: 1 / 0"
    result = _patched_cli(home, patch, "runs")
    assert result.returncode == 1
    assert result.stderr == (
        f"cifar-tui: error: unexpected ZeroDivisionError: division by zero; details in {home / 'cifar-tui.log'}\n"
    )
    log = (home / "cifar-tui.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError" in log


@pytest.mark.slow
def test_the_app_exits_non_zero_when_it_crashes(home):
    patch = "import cifar_tui.tui.app as app\napp.CifarApp.on_mount = lambda self: 1 / 0"
    result = _patched_cli(home, patch)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"cifar-tui: error: the app stopped on an error; details in {home / 'cifar-tui.log'}"
    )
    assert "ZeroDivisionError" in (home / "cifar-tui.log").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--home", "", "runs"), "home: an empty path"),
        (("show", "99999999999999999999"), "is not in the range 1<=x<=9223372036854775807"),
        (("resume", "0"), "is not in the range"),
        (("queue", "add", "--device", "cuda:99999999"), "device: unknown device 'cuda:99999999'"),
    ],
)
def test_bad_ids_homes_and_devices_are_one_line(home, capsys, args, message):
    status, out, err = cifar_tui(capsys, *args)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_show_marks_figures_on_part_of_the_test_set(home, capsys):
    assert cifar_tui(capsys, "run", *QUICK)[0] == 0  # --limit-batches: evaluation on part of the test set
    out = cifar_tui(capsys, "show", "1")[1]
    summary = out[out.index("Summary") : out.index("Epochs")]
    assert "best_test_acc" in summary and any(
        line.split("│")[2].strip().endswith("*") for line in summary.splitlines() if "best_test_acc" in line
    )
    assert out.count("* on part of the test set") == 2


@pytest.mark.slow
def test_show_lists_what_a_run_ran_on_and_groups_and_compare_say_where_environments_differ(home, capsys):
    for seed in ("0", "1", "2"):
        status, _, err = cifar_tui(capsys, "run", *QUICK, "--epochs", "1", "--seed", seed)
        assert status == 0, err
    status, out, _ = cifar_tui(capsys, "show", "1")
    assert status == 0 and "Environment (what it ran on)" in out
    import platform

    import torch

    assert f"│ torch       │ {torch.__version__}" in out and f"│ Python      │ {platform.python_version()}" in out
    record = json.loads(cifar_tui(capsys, "show", "1", "--json")[1])
    assert record["environment"]["torch"] == torch.__version__ == record["env_torch"]
    status, out, _ = cifar_tui(capsys, "runs", "--group", "--plus-minus", "sem")
    assert "(mean ± s.e.)" in out and "†" not in out  # three runs in this one environment
    with sqlite3.connect(home / "runs.db") as db:
        db.execute("UPDATE runs SET environment = json_set(environment, '$.torch', '2.11.0') WHERE id = 3")
    status, out, _ = cifar_tui(capsys, "runs", "--group")
    assert "3†" in out and "† its finished runs ran in different environments" in out
    status, out, _ = cifar_tui(capsys, "compare", "id=1,2", "id=3")
    assert status == 0 and "Environments differ" in out
    assert "│ torch │ " + torch.__version__ in out and "2.11.0" in out
    rows = json.loads(cifar_tui(capsys, "compare", "id=1,2", "id=3", "--json")[1])
    assert [row["environment"] for row in rows] == [{"torch": torch.__version__}, {"torch": "2.11.0"}]


def test_show_lists_the_raw_models_accuracy_only_for_a_run_with_an_average(home, capsys):
    from cifar_tui.store.runs import RunStore
    from tests.tui.conftest import finished_run

    store = RunStore(home / "runs.db")
    finished_run(store, accs=(40.0, 55.0))
    finished_run(store, accs=(41.0, 57.0), raw_accs=(39.5, 54.25), ema=0.99)
    store.close()
    plain = cifar_tui(capsys, "show", "1")[1]
    averaged = cifar_tui(capsys, "show", "2")[1]
    assert "raw_test_acc" not in plain
    epochs = averaged[averaged.index("Epochs") :]
    assert "raw_test_acc" in epochs and "54.25" in epochs and "39.50" in epochs


@pytest.mark.parametrize("target", ["nan", "inf", "1e999", "-1e999", "-5", "100.5"])
def test_a_target_is_a_finite_accuracy(home, capsys, target):
    for command in ("runs", "export"):
        status, out, err = cifar_tui(capsys, "--home", str(home), command, "--group", f"--target={target}")
        assert status == 2 and "Invalid value for '--target': a finite accuracy in percent, 0 to 100" in err
        assert err.strip().count("\n") == 0


def test_resume_refuses_another_config_s_checkpoint_and_leaves_the_run_interrupted(home, capsys):
    import torch

    from cifar_tui.engine.config import make_config

    assert cifar_tui(capsys, "queue", "add", *QUICK)[0] == 0
    with sqlite3.connect(home / "runs.db") as db:
        db.execute("UPDATE runs SET status = 'interrupted', epochs_done = 1 WHERE id = 1")
    other = make_config("seed-resnet", dataset="synthetic").to_json()
    (home / "checkpoints" / "1").mkdir(parents=True)
    fields = dict(epoch=1, step=4, model={}, optimizer={}, torch_rng=torch.get_rng_state())
    torch.save(dict(fields, run_id=1, config=other, generator=torch.get_rng_state()), home / "checkpoints/1/last.pt")
    status, _, err = cifar_tui(capsys, "resume", "1")
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "run 1 stays interrupted:" in err and "another config than run 1's; delete" in err
    with sqlite3.connect(home / "runs.db") as db:
        assert db.execute("SELECT status, epochs_done FROM runs").fetchall() == [("interrupted", 1)]
