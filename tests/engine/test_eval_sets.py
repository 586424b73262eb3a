"""Held-out evaluation sets (--eval-on): the published formats fabricated, each mistake in one
line, the figures recorded, filtered, sorted and exported; and the identity that needs no
download: a set that is exactly the test split gives exactly the test accuracy."""

import json

import numpy as np
import pytest

from cifar_tui.engine import eval_sets
from cifar_tui.engine.config import ConfigError, make_config
from cifar_tui.engine.data import synthetic
from cifar_tui.engine.events import EpochEnd, Evaluated, RunFinished
from cifar_tui.engine.train import train
from cifar_tui.engine.worker import describe_error
from cifar_tui.store.recorder import record
from cifar_tui.store.runs import RunStore


def write_cifar10_1(folder, version="v6", n=40, seed=0):
    """cifar10.1_{version}_data.npy (N x 32 x 32 x 3 uint8) and _labels.npy, as published."""
    folder.mkdir(parents=True, exist_ok=True)
    test = synthetic(10, n, seed=seed).test
    np.save(folder / f"cifar10.1_{version}_data.npy", test.images.permute(0, 2, 3, 1).numpy())
    np.save(folder / f"cifar10.1_{version}_labels.npy", test.labels.numpy().astype(np.int64))
    return test


def write_cifar10_c(folder, per_severity=20, corruptions=eval_sets.BENCHMARK_CORRUPTIONS[:2]):
    """<corruption>.npy: 5 severities x per_severity images, severity 1 first; one labels.npy."""
    folder.mkdir(parents=True, exist_ok=True)
    test = synthetic(10, 5 * per_severity).test
    np.save(folder / "labels.npy", test.labels.numpy().astype(np.uint8))
    for k, name in enumerate(corruptions):
        np.save(folder / f"{name}.npy", (test.images.permute(0, 2, 3, 1).numpy() // (k + 2)).astype(np.uint8))
    return test


QUICK = dict(dataset="synthetic", device="cpu", epochs=1, limit_batches=3, limit_eval_batches=0)


def events_of(config, tmp_path):
    events = []
    train(1, config, events.append, data_dir=tmp_path / "data")
    return events


def test_a_set_that_is_the_test_split_gives_exactly_the_test_accuracy(tmp_path):
    config = make_config("seed-cnn", eval_on="synthetic", **QUICK)
    events = events_of(config, tmp_path)
    end = next(e for e in events if isinstance(e, EpochEnd))
    evaluated = next(e for e in events if isinstance(e, Evaluated))
    summary = dict(evaluated.summary)
    assert evaluated.label == "synthetic" and evaluated.parts == (("", 10_000, end.test_acc, end.test_loss),)
    assert summary["acc"] == end.test_acc and summary["gap"] == 0.0
    assert isinstance(events[-1], RunFinished) and events.index(evaluated) < len(events) - 1


def test_cifar10_1_and_cifar10_c_are_read_in_their_published_layouts(tmp_path, monkeypatch):
    monkeypatch.setattr(eval_sets, "C_IMAGES_PER_SEVERITY", 20)
    write_cifar10_1(tmp_path / "c101", "v4")
    v6 = write_cifar10_1(tmp_path / "c101", "v6", n=30, seed=3)  # v6 is preferred when both are there
    write_cifar10_c(tmp_path / "c10c")
    monkeypatch.chdir(tmp_path)
    config = make_config("seed-cnn", eval_on="cifar10.1:c101,cifar10-c:c10c#gaussian_noise+shot_noise@1+5", **QUICK)
    assert (
        config.eval_on == f"cifar10.1:{tmp_path / 'c101'},cifar10-c:{tmp_path / 'c10c'}#gaussian_noise+shot_noise@1+5"
    )
    events = events_of(config, tmp_path)
    test_acc = next(e for e in events if isinstance(e, EpochEnd)).test_acc
    c101, c10c = [e for e in events if isinstance(e, Evaluated)]
    assert c101.label == "cifar10.1" and c101.parts[0][:2] == ("", len(v6))
    assert dict(c101.summary)["gap"] == pytest.approx(test_acc - c101.parts[0][2])
    assert [p[:2] for p in c10c.parts] == [
        ("gaussian_noise/1", 20), ("gaussian_noise/5", 20), ("shot_noise/1", 20), ("shot_noise/5", 20),
    ]  # fmt: skip
    summary = dict(c10c.summary)
    accs = [p[2] for p in c10c.parts]
    assert summary["acc"] == pytest.approx(sum(accs) / 4)
    assert summary["s1"] == pytest.approx((accs[0] + accs[2]) / 2) and summary["s5"] == pytest.approx(
        (accs[1] + accs[3]) / 2
    )
    assert set(summary) == {"acc", "loss", "gap", "s1", "s5"}


def test_an_image_folder_is_mapped_to_the_training_classes_by_name(tmp_path):
    import torch

    from tests.engine.test_image_folder import write_image

    for name in ("cat", "ship"):  # two of CIFAR-10's classes, in a folder of the user's own
        for i in range(3):
            write_image(tmp_path / "photos" / name / f"{i}.png", torch.full((3, 32, 32), 40 * i, dtype=torch.uint8))
    config = make_config("seed-cnn", eval_on=f"folder:{tmp_path / 'photos'}", **QUICK)
    evaluated = next(e for e in events_of(config, tmp_path) if isinstance(e, Evaluated))
    assert evaluated.label == "photos" and evaluated.parts[0][1] == 6
    parts = eval_sets.parts(eval_sets.parse(config.eval_on), ("airplane", "cat", "ship"), tmp_path / "data")
    assert next(parts).load().labels.tolist() == [1, 1, 1, 2, 2, 2]  # cat and ship by name, not 0 and 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("imagenet", "unknown set 'imagenet'; give cifar10.1:PATH, cifar10-c:PATH, folder:PATH or a dataset"),
        ("cifar10.1:", "'cifar10.1:' names no path; give cifar10.1:PATH"),
        ("cifar10.2:x", "unknown set kind 'cifar10.2'"),
        ("cifar10-c:c10c#fogg", "cifar10-c: unknown corruption 'fogg'"),
        ("cifar10-c:c10c@6", "cifar10-c: severities are 1 to 5, joined by \\+ \\(got '6'\\)"),
        ("cifar10.1:nowhere", "cifar10.1: .*nowhere is not a folder"),
        ("cifar10.1:c10c", "cifar10.1: .*c10c holds neither cifar10.1_v6_data.npy nor cifar10.1_v4_data.npy"),
        ("cifar10-c:c10c#fog", "cifar10-c: .*c10c lacks fog.npy"),
        ("synthetic,synthetic", "two sets named 'synthetic'"),
    ],
)
def test_each_mistake_is_one_line_when_the_run_is_made(tmp_path, monkeypatch, text, message):
    write_cifar10_c(tmp_path / "c10c")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"eval_on: {message}") as error:
        make_config("seed-cnn", eval_on=text, dataset="synthetic")
    assert "\n" not in str(error.value)


def test_cifar10_c_files_of_the_wrong_shape_are_refused_before_training(tmp_path, monkeypatch):
    """From the .npy headers: when the run is made, and again before its first batch."""
    monkeypatch.setattr(eval_sets, "C_IMAGES_PER_SEVERITY", 20)
    write_cifar10_c(tmp_path / "c10c")  # 5 x 20 images and labels
    corruption = tmp_path / "c10c" / "gaussian_noise.npy"
    good = np.load(corruption)
    np.save(corruption, np.zeros((500, 32, 32, 3), np.uint8))  # 500 images beside 100 labels
    text = f"cifar10-c:{tmp_path / 'c10c'}#gaussian_noise"
    with pytest.raises(ConfigError, match=r"gaussian_noise.npy holds uint8 images of shape \(500, 32, 32, 3\)"):
        make_config("seed-cnn", eval_on=text, **QUICK)
    np.save(tmp_path / "c10c" / "labels.npy", np.zeros(30, np.uint8))
    with pytest.raises(ConfigError, match=r"labels.npy holds an array of shape \(30,\); expected 5 x 20 labels"):
        make_config("seed-cnn", eval_on=text, **QUICK)
    write_cifar10_c(tmp_path / "c10c")
    np.save(corruption, good)
    config = make_config("seed-cnn", eval_on=text, **QUICK)
    np.save(corruption, good.astype(np.float32))  # changed after the run was made
    events = []
    with pytest.raises(eval_sets.EvalSetError, match="holds float32 images of shape"):
        train(1, config, events.append, data_dir=tmp_path / "data")
    assert events == []  # nothing trained


def test_cifar10_sets_on_another_datasets_run_are_refused_in_one_line(tmp_path):
    from tests.engine.test_image_folder import make_folder

    write_cifar10_1(tmp_path / "c101")
    with pytest.raises(
        ConfigError, match="eval_on: cifar10.1 holds CIFAR-10's ten classes; --dataset cifar100 has others"
    ):
        make_config("seed-cnn", dataset="cifar100", eval_on=f"cifar10.1:{tmp_path / 'c101'}")
    folder = make_folder(tmp_path / "pets")  # its classes are known when it is read: before training
    config = make_config(
        "seed-cnn", **{**QUICK, "dataset": f"folder:{folder}"}, eval_on=f"cifar10.1:{tmp_path / 'c101'}"
    )
    events = []
    with pytest.raises(eval_sets.EvalSetError) as error:
        train(1, config, events.append, data_dir=tmp_path / "data")
    assert (
        str(error.value) == "cifar10.1 holds CIFAR-10's ten classes; this run's data has 3 others (cat, dog, ship, ...)"
    )
    assert events == [] and describe_error(error.value, config) == str(error.value)  # nothing trained


def recorded_store(tmp_path):
    """Three finished runs with held-out figures, recorded as the worker records them."""
    from tests.tui.conftest import finished_run

    store = RunStore(tmp_path / "runs.db")
    for acc in (80.0, 60.0, 70.0):
        run_id = finished_run(store, accs=(acc + 5,))
        parts = (("", 2000, acc, 0.9),)
        with store.write():
            record(store, Evaluated(run_id, 1, "cifar10.1", parts, (("acc", acc), ("loss", 0.9), ("gap", 5.0))))
    return store


def test_figures_are_recorded_filtered_sorted_and_exported(tmp_path):
    from cifar_tui.store.export import export, table

    store = recorded_store(tmp_path)
    assert store.db.execute("SELECT run_id, label, part, images, acc FROM evaluations ORDER BY run_id").fetchall() == [
        (1, "cifar10.1", "", 2000, 80.0), (2, "cifar10.1", "", 2000, 60.0), (3, "cifar10.1", "", 2000, 70.0),
    ]  # fmt: skip
    assert [r["id"] for r in store.find("cifar10.1_acc>65", "-cifar10.1_acc")] == [1, 3]
    columns, rows = table(store, sort="cifar10.1_acc")
    assert columns[-4:] == ["cifar10.1_acc", "cifar10.1_gap", "cifar10.1_loss", "error"]
    assert [r["id"] for r in rows] == [2, 3, 1]
    csv_text = export(rows, columns, "csv")
    assert csv_text.splitlines()[0].endswith("cifar10.1_acc,cifar10.1_gap,cifar10.1_loss,error")
    assert json.loads(export(rows, columns, "json"))[0]["cifar10.1_acc"] == 60.0
    markdown = export(rows, columns, "md")
    assert "cifar10.1 acc. (%)" in markdown and "| 60.00 |" in markdown


def test_a_resumed_run_drops_the_figures_of_epochs_it_trains_again(tmp_path):
    import json as json_module

    from cifar_tui.engine.events import RunStarted

    store = recorded_store(tmp_path)
    with store.write():  # it continues from its checkpoint of step 0: epoch 1 is trained again
        record(store, RunStarted(1, json_module.dumps({"dataset": "synthetic"}), "cpu", "CPU", 1, 3, 3))
    assert store.db.execute("SELECT count(*) FROM evaluations WHERE run_id = 2").fetchone() == (1,)
    assert store.db.execute("SELECT count(*) FROM evaluations WHERE run_id = 1").fetchone() == (0,)


NET = """import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, num_classes))

    def forward(self, x):
        return self.body(x)
"""


@pytest.mark.slow
def test_evaluate_adds_sets_to_finished_runs_from_their_checkpoints(tmp_path, monkeypatch, capsys):
    """A built-in model's run and a model file's run (rebuilt from its recorded source, the file
    since edited), chosen by a filter; a run without a checkpoint is named in one line."""
    from tests.tui.test_cli import cifar_tui

    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(NET)
    write_cifar10_1(tmp_path / "c101")
    home = ("--home", str(tmp_path / "home"))
    quick = ("--dataset", "synthetic", "--epochs", "1", "--limit-batches", "3", "--device", "cpu", "--name", "keep")
    for model in ("seed-cnn", "net.py:Net", "seed-cnn"):
        assert cifar_tui(capsys, *home, "run", "--model", model, *quick)[0] == 0
    (tmp_path / "net.py").write_text("this file is no longer Python")
    (tmp_path / "home" / "checkpoints" / "3" / "last.pt").unlink()
    status, out, err = cifar_tui(capsys, *home, "evaluate", "keep", "--eval-on", "cifar10.1:c101")
    assert status == 0 and [line.split(":")[0] for line in out.splitlines()] == ["run 2", "run 1"]
    assert err.splitlines()[-1].startswith("run 3: run 3 has no checkpoint to evaluate")
    store = RunStore(tmp_path / "home" / "runs.db")
    for run_id in (1, 2):
        figures = store.run(run_id)["evals"]["cifar10.1"]
        assert figures["epoch"] == 1 and 0 <= figures["acc"] <= 100
        assert figures["gap"] == pytest.approx(store.run(run_id)["test_acc"] - figures["acc"])
    assert store.run(3)["evals"] == {}
    status, _, err = cifar_tui(capsys, *home, "evaluate", "3", "--eval-on", "cifar10.1:c101")
    assert status == 1


def test_evaluate_refuses_bad_input_in_one_line(tmp_path, capsys):
    from tests.tui.test_cli import cifar_tui

    home = ("--home", str(tmp_path / "home"))
    status, _, err = cifar_tui(capsys, *home, "evaluate", "7", "--eval-on", "cifar10")
    assert status == 2 and err.strip() == "cifar-tui: error: runs: no finished run matches '7'; see `cifar-tui runs`"
    status, _, err = cifar_tui(capsys, *home, "evaluate", "7", "--eval-on", "cifar10.9:x")
    assert status == 2 and "eval_on: unknown set kind 'cifar10.9'" in err


def robustness_store(tmp_path):
    """Two seeds of one config and one of another, each with CIFAR-10.1 and CIFAR-10-C figures."""
    from tests.tui.conftest import finished_run

    store = RunStore(tmp_path / "runs.db")
    for seed, lr, shift in ((0, 0.001, 0.0), (1, 0.001, 2.0), (0, 0.01, 10.0)):
        run_id = finished_run(store, accs=(90.0 - shift,), seed=seed, lr=lr)
        c = (("acc", 70.0 - shift), ("loss", 1.0), ("gap", 20.0)) + tuple(
            (f"s{k}", 90.0 - 8 * k - shift) for k in range(1, 6)
        )
        with store.write():
            record(store, Evaluated(run_id, 1, "cifar10.1", (), (("acc", 84.0 - shift), ("loss", 0.5), ("gap", 6.0))))
            record(store, Evaluated(run_id, 1, "cifar10-c", (), c))
    return store


def test_the_robustness_table_of_runs_and_of_groups(tmp_path):
    from cifar_tui.store.export import export, robustness_table

    store = robustness_store(tmp_path)
    columns, rows = robustness_table(store, sort="id")
    assert columns[-9:] == [
        "test_acc", "cifar10_1_acc", "cifar10_1_gap", "cifar10_c_acc",
        "cifar10_c_s1", "cifar10_c_s2", "cifar10_c_s3", "cifar10_c_s4", "cifar10_c_s5",
    ]  # fmt: skip
    [first, *_] = list(__import__("csv").DictReader(__import__("io").StringIO(export(rows, columns, "csv"))))
    assert (first["test_acc"], first["cifar10_1_acc"], first["cifar10_c_s5"]) == ("90.0", "84.0", "50.0")
    columns, groups = robustness_table(store, sort="lr", grouped=True)
    group = next(g for g in groups if g["lr"] == 0.001)
    assert (
        group["n"] == 2 and group["cifar10_1_acc_mean"] == 83.0 and group["cifar10_1_acc_std"] == pytest.approx(2**0.5)
    )
    markdown = export(groups, columns, "md")
    assert "| CIFAR-10.1 (%) (mean ± std) |" in markdown and "83.00 ± 1.41" in markdown and "C sev. 5 (%)" in markdown


@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="pdflatex is not installed here")
def test_the_robustness_table_compiles_as_latex(tmp_path):
    import subprocess

    from cifar_tui.store.export import export, robustness_table

    columns, groups = robustness_table(robustness_store(tmp_path), grouped=True)
    body = export(groups, columns, "latex")
    rules = "\\newcommand\\toprule{\\hline}\\newcommand\\midrule{\\hline}\\newcommand\\bottomrule{\\hline}"
    preamble = f"\\documentclass{{article}}\\IfFileExists{{booktabs.sty}}{{\\usepackage{{booktabs}}}}{{{rules}}}"
    (tmp_path / "t.tex").write_text(preamble + "\\begin{document}\n" + body + "\\end{document}\n", encoding="utf-8")
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path, capture_output=True
    )
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]
    assert "CIFAR-10.1 (\\%)" in body and "83.00 $\\pm$ 1.41" in body


def test_groups_show_each_sets_accuracy_and_gap_as_mean_and_std(tmp_path):
    from cifar_tui.store.export import export, table

    store = robustness_store(tmp_path)
    columns, groups = table(store, sort="lr", grouped=True)
    figures = ("cifar10-c_acc", "cifar10-c_gap", "cifar10.1_acc", "cifar10.1_gap")
    assert columns[-20:] == [f"{f}_{s}" for f in figures for s in ("mean", "std", "sem", "ci_low", "ci_high")]
    pair = next(g for g in groups if g["lr"] == 0.001)
    assert pair["cifar10.1_acc_mean"] == 83.0 and pair["cifar10.1_acc_std"] == pytest.approx(2**0.5)
    half_width = 12.706204736174707 * 1.0  # t(0.975, 1) x the standard error, sqrt(2) / sqrt(2)
    assert pair["cifar10.1_acc_sem"] == pytest.approx(1.0)
    assert (pair["cifar10.1_acc_ci_low"], pair["cifar10.1_acc_ci_high"]) == pytest.approx(
        (83 - half_width, 83 + half_width)
    )
    single = next(g for g in groups if g["lr"] == 0.01)
    assert single["cifar10.1_acc_mean"] == 74.0 and single["cifar10.1_acc_std"] is None
    assert "| 83.00 ± 1.41 |" in export(groups, columns, "md")


async def test_compare_lists_each_held_out_sets_accuracy_and_gap(tmp_path):
    from textual.widgets import DataTable

    from cifar_tui.tui.app import CifarApp
    from cifar_tui.tui.screens.compare import CompareScreen
    from cifar_tui.tui.worker.home import Home

    home = Home(tmp_path / "home")
    robustness_store(tmp_path / "home")  # runs 1 and 2: one group (lr 0.001); run 3 alone
    app = CifarApp(home, start_engine=False)
    async with app.run_test(size=(160, 48)) as pilot:
        app.push_screen(CompareScreen(groups=[[1, 2], [3]]))
        await pilot.pause(0.5)
        table = app.screen.query_one("#compare-table", DataTable)
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)[1:]] for i in range(table.row_count)}
        assert rows["[b]cifar10.1_acc[/b]"] == ["83.00 ± 1.41", "74.00"]
        assert rows["[b]cifar10-c_gap[/b]"] == ["20.00 ± 0.00", "20.00"]


@pytest.mark.slow
def test_evaluate_rebuilds_a_half_runs_model_in_the_dtypes_it_trained_in(tmp_path, capsys):
    from tests.tui.test_cli import cifar_tui

    write_cifar10_1(tmp_path / "c101")
    home = ("--home", str(tmp_path / "home"))
    quick = ("--dataset", "synthetic", "--epochs", "1", "--limit-batches", "3", "--device", "cpu")
    half = ("--precision", "half", "--optimizer", "sgd")
    assert cifar_tui(capsys, *home, "run", *quick, *half)[0] == 0
    status, out, err = cifar_tui(capsys, *home, "evaluate", "1", "--eval-on", f"cifar10.1:{tmp_path / 'c101'}")
    assert status == 0, err
    figures = RunStore(tmp_path / "home" / "runs.db").run(1)["evals"]["cifar10.1"]
    assert figures["epoch"] == 1 and 0 <= figures["acc"] <= 100


def test_each_kind_is_one_declaration_the_help_and_the_parser_read():
    from cifar_tui.engine.config import SETTINGS
    from cifar_tui.engine.datasets import IMAGE_FOLDER

    assert f"{eval_sets.FOLDER.name}:" == IMAGE_FOLDER  # the dataset's folder prefix and the set's agree
    help_text = SETTINGS["eval_on"].help
    for kind in eval_sets.KINDS:
        assert kind.syntax in help_text
        if kind.takes_path:
            with pytest.raises(eval_sets.EvalSetError, match="names no path"):
                eval_sets.parse(f"{kind.name}:")
    with pytest.raises(eval_sets.EvalSetError, match="known: cifar10.1, cifar10-c, folder$"):
        eval_sets.parse("dataset:cifar10")  # the dataset kind has no prefix


def test_a_new_kind_is_one_declaration(monkeypatch, tmp_path):
    import torch

    from cifar_tui.engine.data import Split

    def constant_parts(s, classes, data_dir):
        yield eval_sets.EvalPart("", lambda: Split(torch.zeros(3, 3, 32, 32, dtype=torch.uint8), torch.zeros(3)))

    grey = eval_sets.EvalKind("grey", "grey:PATH", lambda argument: "grey", constant_parts)
    monkeypatch.setattr(eval_sets, "KINDS", (*eval_sets.KINDS, grey))
    monkeypatch.setattr(eval_sets, "BY_NAME", {**eval_sets.BY_NAME, "grey": grey})
    (tmp_path / "g").mkdir()
    assert eval_sets.checked("grey:g", tmp_path) == f"grey:{tmp_path / 'g'}"
    (s,) = eval_sets.parse_list(f"grey:{tmp_path / 'g'}")
    (part,) = eval_sets.parts(s, ("a",), tmp_path)
    assert (s.label, s.spec, len(part.load())) == ("grey", f"grey:{tmp_path / 'g'}", 3)
    assert "grey:PATH" in eval_sets.kinds_help()
