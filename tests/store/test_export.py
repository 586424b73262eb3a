"""Exports: raw values for tools, escaped and rounded tables for people; tricky names come out
literally (Markdown checked with a CommonMark renderer, LaTeX compiled when pdflatex is here)."""

import csv
import io
import json
import shutil
import subprocess

import numpy as np
import pytest
from markdown_it import MarkdownIt

from cifar_tui.engine.config import make_config
from cifar_tui.store.export import FORMATS, export, latex_text, table
from cifar_tui.store.runs import RunStore

TRICKY_NAMES = [
    "*bold* _it_ **x**",
    "<i>html</i> <script>alert(1)</script>",
    "[link](http://example.com) ![img](x.png)",
    "`code` ``two``",
    "pipe | in | name",
    "back\\slash \\| \\*",
    "# heading-ish + - 1. list",
    "& %  $ # _ { } ~ ^ < > |",
    "www.example.com https://x.org <http://y.org>",
    "&amp; &lt; entity",
    "~~strike~~ ^sup^",
    "émoji 😀 中文",
    "1,867 94.12",
    "trailing\\",
]


@pytest.fixture
def store(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    yield store
    store.close()


def finish(store, run_id, acc, best, loss, seconds=10.0, speed=1866.8090647619479):
    with store.write():
        store.db.execute(
            """UPDATE runs SET status = 'finished', test_acc = ?, best_test_acc = ?, test_loss = ?, seconds = ?,
               images_per_s = ?, epochs_done = epochs WHERE id = ?""",
            [acc, best, loss, seconds, speed, run_id],
        )


def named_runs(store, names):
    for index, name in enumerate(names):
        run_id = store.enqueue(make_config(dataset="synthetic", epochs=1, seed=index, name=name).to_dict())
        finish(store, run_id, 90 + index / 7, 91 + index / 7, 0.3)


def test_markdown_renders_every_name_literally(store):
    named_runs(store, TRICKY_NAMES)
    columns, rows = table(store, sort="id", varying=True)
    text = export(rows, ["id", "name", "test_acc"], "md")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    cells = [t for t in tokens if t.type == "inline"]
    names = [cells[i].children for i in range(4, len(cells), 3)]  # header: 3 cells; then id, name, acc
    rendered = ["".join(c.content for c in children if c.type in ("text", "softbreak")) for children in names]
    assert rendered == TRICKY_NAMES
    kinds = {c.type for children in names for c in children}
    assert kinds <= {"text"}, kinds  # no emphasis, link, image, code, html, entity
    assert "| 1 | " in text and " | 90.00 |" in text  # numbers plain


LATEX_CASES = [
    ("50% & $5", r"50\% \& \$5"),
    ("a_b#c", r"a\_b\#c"),
    ("{x}", r"\{x\}"),
    ("~^", r"\textasciitilde{}\textasciicircum{}"),
    ("\\", r"\textbackslash{}"),
    ("<a|b>", r"\textless{}a\textbar{}b\textgreater{}"),
    ("`q`", r"\textasciigrave{}q\textasciigrave{}"),
    ("é", "é"),
    ("😀", "[U+1F600]"),
    ("tab\there", "tabhere"),
]


@pytest.mark.parametrize("text, expected", LATEX_CASES)
def test_latex_escapes_every_special(text, expected):
    assert latex_text(text) == expected


def test_latex_is_a_booktabs_tabular_with_worded_headers(store):
    named_runs(store, ["plain"])
    columns, rows = table(store, varying=False)
    text = export(rows, ["id", "name", "lr", "test_acc", "images_per_s"], "latex")
    assert text.splitlines() == [
        "% needs \\usepackage{booktabs}",
        "\\begin{tabular}{rlrrr}",
        "\\toprule",
        "Run & Name & LR & Test acc. (\\%) & Images/s \\\\",
        "\\midrule",
        "1 & plain & 0.001 & 90.00 & 1867 \\\\",
        "\\bottomrule",
        "\\end{tabular}",
    ]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed here")
def test_latex_with_tricky_names_compiles(store, tmp_path):
    named_runs(store, TRICKY_NAMES)
    columns, rows = table(store, varying=True)
    compile_latex(export(rows, columns, "latex"), tmp_path)


def compile_latex(body: str, folder) -> None:
    """pdflatex compiles the tabular in a document (folder/t.pdf) without an error."""
    # booktabs comes with texlive-latex-recommended; without it its three rules become \\hline.
    rules = "\\newcommand\\toprule{\\hline}\\newcommand\\midrule{\\hline}\\newcommand\\bottomrule{\\hline}"
    preamble = f"\\documentclass{{article}}\\IfFileExists{{booktabs.sty}}{{\\usepackage{{booktabs}}}}{{{rules}}}"
    document = preamble + "\\begin{document}\n" + body + "\\end{document}\n"
    (folder / "t.tex").write_text(document, encoding="utf-8")
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=folder, capture_output=True
    )
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]


def test_csv_and_json_carry_raw_values_and_the_config(store):
    named_runs(store, ["x"])
    store.rename(1, 'a, "quoted"\nname')  # as an older version could store it
    columns, rows = table(store, varying=False)
    [row] = list(csv.DictReader(io.StringIO(export(rows, columns, "csv"))))
    assert row["name"] == 'a, "quoted"\nname'
    assert row["images_per_s"] == "1866.8090647619479"  # no rounding, no thousands separator
    assert row["lr"] == "0.001" and row["optimizer"] == "adam" and row["batch_size"] == "64"
    [record] = json.loads(export(rows, columns, "json"))
    assert record["images_per_s"] == 1866.8090647619479 and record["seed"] == 0 and record["tags"] == []


def test_groups_report_mean_and_sample_std_over_seeds(store):
    accs = {0.1: [93.1, 94.2, 94.0], 0.01: [91.0, 91.5]}
    for lr, values in accs.items():
        for seed, acc in enumerate(values):
            run_id = store.enqueue(make_config(dataset="synthetic", lr=lr, seed=seed, name=f"s{seed}").to_dict())
            finish(store, run_id, acc, acc + 1, 1 / acc, seconds=seed + 1)
    unfinished = store.enqueue(make_config(dataset="synthetic", lr=0.1, seed=9).to_dict())  # queued: not counted
    columns, groups = table(store, sort="lr", grouped=True)
    assert columns[:3] == ["lr", "n", "runs"]  # only lr varies (seed and name do not split a group)
    assert [(g["lr"], g["n"], g["runs"]) for g in groups] == [(0.01, 2, 2), (0.1, 3, 4)]
    for group, values in zip(groups, (accs[0.01], accs[0.1])):
        assert group["test_acc_mean"] == pytest.approx(np.mean(values), abs=1e-12)
        assert group["test_acc_std"] == pytest.approx(np.std(values, ddof=1), abs=1e-9)
        assert group["test_loss_std"] == pytest.approx(np.std([1 / v for v in values], ddof=1), abs=1e-9)
    assert unfinished in store.groups(sort="lr")[1]["ids"]
    md = export(groups, columns, "md")
    assert f"| 0.1 | 3 | 4 | {np.mean(accs[0.1]):.2f} ± {np.std(accs[0.1], ddof=1):.2f} |" in md
    latex = export(groups, columns, "latex")
    assert f"{np.mean(accs[0.1]):.2f} $\\pm$ {np.std(accs[0.1], ddof=1):.2f}" in latex
    [first, _] = json.loads(export(groups, columns, "json"))
    assert {"test_acc_mean", "test_acc_std", "n"} <= set(first)


def test_one_finished_run_has_no_std(store):
    run_id = store.enqueue(make_config(dataset="synthetic").to_dict())
    finish(store, run_id, 90.0, 91.0, 0.3)
    columns, [group] = table(store, grouped=True)
    assert group["test_acc_std"] is None
    assert "| 90.00 |" in export([group], columns, "md")


def test_every_format_is_declared_once_with_its_extension():
    assert {name: f.extension for name, f in FORMATS.items()} == {
        "csv": "csv",
        "json": "json",
        "md": "md",
        "latex": "tex",
    }
    with pytest.raises(ValueError, match="format: unknown format 'xls'; allowed: csv, json, md, latex"):
        export([], ["id"], "xls")


def test_groups_carry_the_standard_error_a_confidence_interval_and_a_claims_p_value(store, tmp_path, capsys):
    from scipy import stats

    from tests.tui.test_cli import cifar_tui

    values = [94.05, 93.92, 94.11, 94.0, 93.97]
    for seed, acc in enumerate(values):
        run_id = store.enqueue(make_config(dataset="synthetic", seed=seed).to_dict())
        finish(store, run_id, acc, acc, 0.2)
    columns, [group] = table(store, grouped=True, target=93.9)
    assert columns[columns.index("test_acc_mean") :][:6] == [
        "test_acc_mean", "test_acc_std", "test_acc_sem", "test_acc_ci_low", "test_acc_ci_high", "test_acc_p_value",
    ]  # fmt: skip
    assert group["test_acc_sem"] == pytest.approx(stats.sem(values))
    low, high = stats.t.interval(0.95, 4, loc=np.mean(values), scale=stats.sem(values))
    assert (group["test_acc_ci_low"], group["test_acc_ci_high"]) == pytest.approx((low, high))
    assert group["test_acc_p_value"] == pytest.approx(stats.ttest_1samp(values, 93.9, alternative="greater").pvalue)
    [row] = list(csv.DictReader(io.StringIO(export([group], columns, "csv"))))
    assert float(row["test_acc_ci_high"]) == pytest.approx(high) and row["test_acc_p_value"]
    md = export([group], columns, "md")
    assert "ci" not in md.lower().split("|")[1:-1][0] and f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" in md
    assert "| p (test acc. > 93.9) |" in md  # the header names the target tested
    store.close()
    status, _, err = cifar_tui(capsys, "--home", str(tmp_path), "runs", "--target", "94")
    assert status == 2 and err.strip() == "cifar-tui: error: target: a test over a group's runs; add --group"
    status, out, _ = cifar_tui(
        capsys, "--home", str(tmp_path), "export", "--group", "--target", "94", "--format", "json"
    )
    assert status == 0 and json.loads(out)[0]["test_acc_p_value"] == pytest.approx(
        stats.ttest_1samp(values, 94, alternative="greater").pvalue
    )


def seeds_with_environments(store, environments, values=(94.05, 93.92, 94.11)):
    """A group of finished runs (seeds of one config), each with its recorded environment."""
    for seed, (acc, environment) in enumerate(zip(values, environments)):
        run_id = store.enqueue(make_config(dataset="synthetic", seed=seed).to_dict())
        finish(store, run_id, acc, acc, 0.2)
        with store.write():
            store.db.execute("UPDATE runs SET environment = ? WHERE id = ?", [json.dumps(environment), run_id])


ENV = {"torch": "2.14.1", "gpu": "NVIDIA H200", "host": "a"}


@pytest.mark.parametrize("plus_minus, words", [("std", "std"), ("sem", "s.e."), ("ci", "95% CI")])
def test_plus_minus_is_the_std_the_standard_error_or_the_ci_half_width_and_the_header_says_which(
    store, plus_minus, words
):
    from scipy import stats

    values = [94.05, 93.92, 94.11]
    seeds_with_environments(store, [ENV] * 3, values)
    columns, groups = table(store, grouped=True)
    spread = {
        "std": np.std(values, ddof=1),
        "sem": stats.sem(values),
        "ci": stats.t.ppf(0.975, 2) * stats.sem(values),
    }[plus_minus]
    md = export(groups, columns, "md", plus_minus)
    assert f"| Test acc. (%) (mean ± {words}) |" in md
    assert f"| {np.mean(values):.2f} ± {spread:.2f} |" in md
    latex = export(groups, columns, "latex", plus_minus)
    assert "Test acc. (\\%) (mean $\\pm$ " + words.replace("%", "\\%") + ")" in latex
    assert f"{np.mean(values):.2f} $\\pm$ {spread:.2f}" in latex
    with pytest.raises(ValueError, match="plus_minus: 'var' is not one of std, sem, ci"):
        export(groups, columns, "md", "var")


def test_a_group_whose_runs_ran_in_different_environments_is_marked_but_not_for_a_host_name(store):
    seeds_with_environments(store, [ENV, ENV | {"host": "b"}, ENV])
    columns, [group] = table(store, grouped=True)
    assert group["environments"] == 1  # only the host differs: the same software and hardware
    assert "†" not in export([group], columns, "md")
    with store.write():
        store.db.execute("UPDATE runs SET environment = json_set(environment, '$.torch', '2.11.0') WHERE id = 2")
    columns, [group] = table(store, grouped=True)
    assert group["environments"] == 2
    md = export([group], columns, "md")
    assert "| 3† | 3 |" in md and "† its finished runs ran in different environments" in md
    latex = export([group], columns, "latex")
    assert "3$^\\dagger$ & 3 &" in latex and "% $^\\dagger$ its finished runs" in latex
    [row] = list(csv.DictReader(io.StringIO(export([group], columns, "csv"))))
    assert row["n"] == "3" and row["environments"] == "2"  # tools: the count, no mark


def test_a_runs_environment_is_exported_as_env_columns_in_csv_and_json(store):
    seeds_with_environments(store, [ENV])
    store.enqueue(make_config(dataset="synthetic", seed=5).to_dict())  # queued: nothing recorded yet
    columns, rows = table(store, sort="id", varying=True)
    assert [c for c in columns if c.startswith("env_")][:2] == ["env_cifar_tui", "env_git_commit"]
    first, queued = list(csv.DictReader(io.StringIO(export(rows, columns, "csv"))))
    assert (first["env_torch"], first["env_gpu"], first["env_host"], first["env_python"]) == (
        "2.14.1",
        "NVIDIA H200",
        "a",
        "",
    )
    assert queued["env_torch"] == ""
    first, queued = json.loads(export(rows, columns, "json"))
    assert first["env_torch"] == "2.14.1" and queued["env_torch"] is None
    assert "env_" not in export(rows, columns, "md") and "torch" not in export(rows, columns, "latex")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed here")
def test_a_grouped_latex_table_with_confidence_intervals_and_the_mark_compiles(store, tmp_path):
    seeds_with_environments(store, [ENV, ENV | {"torch": "2.11.0"}, ENV])
    columns, groups = table(store, grouped=True, target=93.9)
    compile_latex(export(groups, columns, "latex", "ci"), tmp_path)
