"""Sweeps, tags, notes and names, and the scripting surface of the command line."""

import json

import pytest

from tests.tui.test_cli import QUICK, cifar_tui, home  # noqa: F401  (home is a fixture)


def test_queue_add_a_sweep_prints_ids_and_names_it(home, capsys):
    status, out, err = cifar_tui(
        capsys, "queue", "add", "--dataset", "synthetic", "--lr", "1e-3,1e-2", "--seed", "0..1"
    )
    assert status == 0, err
    assert out.split() == ["1", "2", "3", "4"] and "queued 4 runs as sweep s1" in err
    status, out, _ = cifar_tui(capsys, "queue", "add", "--json", "--seed", "5..6", "--sweep-name", "mine")
    assert json.loads(out) == {"sweep": "mine", "ids": [5, 6]}
    status, out, _ = cifar_tui(capsys, "queue", "add", "--seed", "0..1")
    assert out.split() == ["7", "8"]
    status, out, _ = cifar_tui(capsys, "runs", "--json", "sweep=s2")
    assert [(r["id"], r["sweep"], r["seed"]) for r in json.loads(out)] == [(8, "s2", 1), (7, "s2", 0)]


def test_a_large_sweep_asks_and_without_a_terminal_needs_yes(home, capsys):
    status, _, err = cifar_tui(capsys, "queue", "add", "--seed", "0..100")
    assert status == 2 and "101 runs; add --yes" in err
    status, out, _ = cifar_tui(capsys, "queue", "add", "--seed", "0..100", "--yes")
    assert status == 0 and len(out.split()) == 101
    out = cifar_tui(capsys, "runs")[1]  # a terminal table shows the newest 100
    assert "100 rows of 101 runs (--limit 0 shows all)" in out and "│ 101 " in out and "│ 1 " not in out
    assert "101 rows of 101 runs" in cifar_tui(capsys, "runs", "--limit", "0")[1]
    assert len(json.loads(cifar_tui(capsys, "runs", "--json")[1])) == 101


def test_a_sweep_file_and_flags_on_top(home, capsys, tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('sweep = "study"\ndataset = "synthetic"\noptimizer = ["adam", "sgd"]\nseed = "0..1"\n')
    status, out, err = cifar_tui(capsys, "queue", "add", "--sweep", str(path), "--epochs", "2")
    assert status == 0, err
    runs = json.loads(cifar_tui(capsys, "runs", "--json")[1])
    assert len(runs) == 4 and {r["sweep"] for r in runs} == {"study"} and {r["epochs"] for r in runs} == {2}
    assert sorted((r["optimizer"], r["seed"]) for r in runs) == [("adam", 0), ("adam", 1), ("sgd", 0), ("sgd", 1)]


def test_run_trains_one_config(home, capsys):
    status, _, err = cifar_tui(capsys, "run", "--lr", "1e-3,1e-2")
    assert status == 2 and "run trains one config; queue a sweep" in err


@pytest.mark.slow
def test_run_prints_its_id_and_json(home, capsys):
    status, out, err = cifar_tui(capsys, "run", *QUICK)
    assert status == 0 and out == "1\n" and "finished" in err
    status, out, _ = cifar_tui(capsys, "run", *QUICK, "--json")
    record = json.loads(out)
    assert record["id"] == 2 and record["status"] == "finished" and len(record["epochs_history"]) == 2
    status, out, _ = cifar_tui(capsys, "show", "2", "--json")
    assert json.loads(out) == record
    runs_keys = set(json.loads(cifar_tui(capsys, "runs", "--json")[1])[0])
    assert runs_keys == set(record) - {"epochs_history"}  # one set of keys for tools
    export_keys = set(json.loads(cifar_tui(capsys, "export", "--format", "json")[1])[0])
    assert export_keys <= runs_keys


def test_tags_notes_and_names(home, capsys):
    cifar_tui(capsys, "queue", "add", "--seed", "0..2")
    status, _, err = cifar_tui(capsys, "tag", "1", "2", "+baseline", "+v1")
    assert status == 0 and "run 2: baseline, v1" in err
    cifar_tui(capsys, "tag", "2", "-v1")
    cifar_tui(capsys, "note", "3", "lr too high?")
    cifar_tui(capsys, "rename", "3", "wide <b>net</b>")
    runs = {r["id"]: r for r in json.loads(cifar_tui(capsys, "runs", "--json")[1])}
    assert runs[1]["tags"] == ["baseline", "v1"] and runs[2]["tags"] == ["baseline"]
    assert runs[3]["note"] == "lr too high?" and runs[3]["name"] == "wide <b>net</b>"
    assert [r["id"] for r in json.loads(cifar_tui(capsys, "runs", "--json", "tag:v1")[1])] == [1]
    show = cifar_tui(capsys, "show", "1")[1]
    assert "baseline, v1" in show


def test_queue_list_shows_the_fields_that_tell_a_sweeps_runs_apart(home, capsys):
    cifar_tui(capsys, "queue", "add", "--seed", "0..1", "--lr", "1e-3,3e-3")
    rows = json.loads(cifar_tui(capsys, "queue", "list", "--json")[1])
    assert [(r["lr"], r["seed"]) for r in rows] == [(1e-3, 0), (1e-3, 1), (3e-3, 0), (3e-3, 1)]
    assert "batch_size" not in rows[0]  # only what varies


@pytest.mark.parametrize(
    "args, message",
    [
        (("tag", "1"), "tag: give run ids and +tag or -tag"),
        (("tag", "9", "+x"), "run_id: no run with id 9"),
        (("tag", "1", "+a,b"), "is not a tag"),
        (
            ("tag", "1", "baseline"),
            "tag: 'baseline' is not a run id; a tag is given as +name (adds) or -name (removes)",
        ),
        (
            ("note", "1", "bell\x07"),
            "note: a note must be printable text; it holds the invisible or control character U+0007",
        ),
        (("note", "1", "x" * 2001), "note: a note holds at most 2,000 characters (got 2,001)"),
        (("rename", "1", "x" * 201), "name: must be at most 200 characters"),
        (("runs", "lr<abc"), "filter: lr is a number"),
        (("runs", "--columns", "id,nope"), "columns: unknown column 'nope'"),
        (("export", "--history", "--format", "md"), "format: the history is a table for tools; choose csv, json"),
        (("queue", "add", "--seed", "3..1"), "seed: an empty range"),
        (("queue", "add", "--lr", "1e-4:1e-1"), "lr: an interval is sampled: add --random N"),
        (("queue", "add", "--sweep-name", ""), "sweep-name: give 1 to 100 characters"),
        (("queue", "add", "--sweep-name", "a\x1bb"), "sweep-name: must be printable text"),
        (("runs", "--sort", "nope"), "sort: unknown field 'nope'"),
        (("runs", "--group", "--sort", "nope"), "sort: unknown field 'nope'"),
    ],
)
def test_bad_input_is_one_line(home, capsys, args, message):
    cifar_tui(capsys, "queue", "add", "--dataset", "synthetic")
    status, _, err = cifar_tui(capsys, *args)
    assert status == 2 and err.count("\n") == 1 and message in err, err


def test_version(home, capsys):
    status, out, _ = cifar_tui(capsys, "--version")
    assert status == 0 and out.startswith("cifar-tui, version ")


@pytest.mark.slow
def test_history_and_losses_exports(home, capsys):
    cifar_tui(capsys, "run", *QUICK)
    out = cifar_tui(capsys, "export", "--history")[1]
    lines = out.splitlines()
    # raw_test_acc (the raw model's, with --ema) is a column of every history, blank without one: tools read one schema
    header = "run_id,epoch,step,test_acc,test_loss,raw_test_acc,train_loss,images_per_s,seconds"
    assert lines[0].startswith(header) and len(lines) == 3 and lines[1].split(",")[5] == ""
    rows = json.loads(cifar_tui(capsys, "export", "--losses", "--every", "2", "--format", "json")[1])
    assert [r["step"] for r in rows] == [0, 2, 4, 6] and set(rows[0]) == {"run_id", "step", "epoch", "loss"}


def test_compare_two_sets_of_runs_gives_the_difference_its_interval_and_welchs_p(home, capsys):
    from scipy import stats

    from cifar_tui.store.runs import RunStore

    store = RunStore(home / "runs.db")
    accs = {0.001: [80.0, 81.0, 79.5], 0.01: [83.0, 84.5, 82.5, 83.5]}
    for lr, values in accs.items():
        for seed, acc in enumerate(values):
            run_id = store.enqueue({"model": "seed-cnn", "dataset": "synthetic", "epochs": 1, "lr": lr, "seed": seed})
            store.db.execute("UPDATE runs SET status = 'finished', test_acc = ? WHERE id = ?", [acc, run_id])
    store.enqueue({"model": "seed-cnn", "dataset": "synthetic", "epochs": 1, "lr": 0.01, "seed": 9})  # queued: left out
    store.db.conn.commit()
    status, out, err = cifar_tui(capsys, "compare", "lr=0.001", "lr=0.01", "--json")
    assert status == 0, err
    first, other = json.loads(out)
    assert (first["n"], other["n"]) == (3, 4) and "diff" not in first
    expected = stats.ttest_ind(accs[0.01], accs[0.001], equal_var=False)
    assert other["p_value"] == pytest.approx(expected.pvalue)
    assert (other["ci_low"], other["ci_high"]) == pytest.approx(tuple(expected.confidence_interval(0.95)))
    status, out, _ = cifar_tui(capsys, "compare", "lr=0.001", "lr=0.01")
    assert status == 0 and "p (Welch)" in out and f"{expected.pvalue:.4f}" in out
    status, _, err = cifar_tui(capsys, "compare", "lr=0.001")
    assert status == 2 and "give two or more" in err
    status, _, err = cifar_tui(capsys, "compare", "lr=0.001", "lr<<1")
    assert status == 2 and err.count("\n") == 1
    status, out, err = cifar_tui(capsys, "compare", "lr=0.001", "lr=0.5")  # a set of no runs is named
    assert (
        status == 2
        and err == "cifar-tui: error: filters: 'lr=0.5' matches no runs (cifar-tui runs FILTER lists a set)\n"
    )


def test_a_sweep_file_starts_a_search_and_a_bad_setting_is_one_line(home, capsys, tmp_path):
    from cifar_tui.store.runs import RunStore

    path = tmp_path / "search.toml"
    path.write_text(
        'sweep = "lr-search"\nsearch = "grid"\nprune = "asha"\ndataset = "synthetic"\n'
        "lr = [1e-3, 3e-3, 1e-2]\nbatch_size = [64, 128]\n"
    )
    status, out, err = cifar_tui(capsys, "queue", "add", "--sweep", str(path), "--parallel", "2", "--json")
    assert status == 0, err
    assert json.loads(out) == {"sweep": "lr-search", "ids": [1, 2]}
    (study,) = RunStore(home / "runs.db").studies()
    assert (study["search"], study["trials"], study["prune"]) == ("grid", 6, "asha")  # the grid's size by default
    path.write_text('search = "tpe"\ntrials = "ten"\nlr = "1e-4:1e-1"\n')
    status, _, err = cifar_tui(capsys, "queue", "add", "--sweep", str(path))
    assert status == 2 and err.strip() == "cifar-tui: error: trials: a whole number (got 'ten')"
