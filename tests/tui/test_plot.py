"""`cifar-tui plot KIND FILTER -o FILE`: every kind for runs and groups in PNG, SVG and PDF; the
plotted values are the store's (read back from the figure's own artists and compared with SQL
and the store's statistics); a partial test set is marked; hostile names are literal text (in
the legend and in the PDF's text layer); the PDF's fonts are embedded (read with pypdf)."""

import json
import math
import sqlite3
import statistics

import pytest
from scipy import stats

from cifar_tui.store.runs import RunStore
from cifar_tui.store.study import StudySettings
from tests.store.test_study import end, space
from tests.tui.conftest import finished_run
from tests.tui.test_cli import cifar_tui

pytest.importorskip("matplotlib")
pypdf = pytest.importorskip("pypdf")

HOSTILE = "$x$ _a 50% \\textbf{b} [red]r[/]"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
KINDS = ("curves", "loss", "pareto", "heldout", "parallel")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Two groups of three seeds (lr 0.001 and 0.01, runs 1-6), a run with a hostile name (7)
    and a run evaluated on part of the test set (8); held-out sets on runs 1, 3, 5 and 2; a
    confusion matrix on the lr=0.001 group's runs."""
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path / "home"))
    store = RunStore(tmp_path / "home" / "runs.db")
    for seed in range(3):
        finished_run(store, accs=(40 + seed, 55 + seed, 61.5 + seed), seed=seed, lr=0.001, steps_per_epoch=20)
        finished_run(store, accs=(35 + seed, 50 + 2 * seed, 58 + seed), seed=seed, lr=0.01, steps_per_epoch=20)
    finished_run(store, accs=(45.0, 62.0), name=HOSTILE, steps_per_epoch=20, lr=0.003)
    finished_run(store, accs=(30.0, 44.0), name="partial", steps_per_epoch=20, lr=0.03)
    store.close()
    db = sqlite3.connect(tmp_path / "home" / "runs.db")
    corrupted = {"acc": 45.0, "s1": 55.0, "s2": 50.0, "s3": 45.0, "s4": 40.0, "s5": 35.0, "gap": 16.0}
    for run_id, shift in ((1, 0.0), (3, 1.0), (5, 2.5)):
        evals = {"cifar10.1": {"acc": 50.0 + shift, "gap": 11.5 - shift}, "cifar10-c": corrupted}
        db.execute("UPDATE runs SET evals = ? WHERE id = ?", [json.dumps(evals), run_id])
    db.execute("UPDATE runs SET evals = ? WHERE id = 2", [json.dumps({"cifar10.1": {"acc": 48.0, "gap": 10.0}})])
    for run_id, hits in ((1, 80), (3, 70), (5, 60)):
        matrix = [hits if true == predicted else true for true in range(10) for predicted in range(10)]
        db.execute("UPDATE epochs SET confusion = ? WHERE run_id = ?", [json.dumps(matrix), run_id])
        db.execute("UPDATE runs SET classes = ? WHERE id = ?", [json.dumps(CLASSES), run_id])
    db.execute("UPDATE epochs SET eval_images = 500 WHERE run_id = 8")
    db.execute("UPDATE runs SET eval_images = 500 WHERE id = 8")
    db.commit()
    db.close()
    return tmp_path


def figure_of(home, kind, *words, grouped=False, plus_minus="ci"):
    """The figure `plot` would write, drawn in this process."""
    from cifar_tui.tui.figures.entries import entries
    from cifar_tui.tui.figures.kinds import KINDS as DRAW
    from cifar_tui.tui.figures.kinds import Options

    store = RunStore(home / "home" / "runs.db")
    function, _ = DRAW[kind]
    options = Options(3.4, plus_minus)
    if kind == "search":
        return function(store, words[0], options)
    return function(store, entries(store, " ".join(words), grouped), options)


def legend_texts(figure):
    [legend] = figure.legends
    return [text.get_text() for text in legend.get_texts()], legend.get_title().get_text()


def epochs_of(home, run_id, column):
    db = sqlite3.connect(home / "home" / "runs.db")
    try:
        return db.execute(f"SELECT epoch, {column} FROM epochs WHERE run_id = ? ORDER BY epoch", [run_id]).fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("grouped", [False, True])
def test_each_kind_writes_a_figure_for_runs_and_groups(home, capsys, grouped):
    for kind in KINDS:
        target = home / f"{kind}.svg"
        status, _, err = cifar_tui(capsys, "plot", kind, *(["--group"] if grouped else []), "-o", str(target))
        assert status == 0 and err.strip() == f"wrote the {kind} figure to {target}", err
        assert target.read_bytes().startswith(b"<?xml")
    status, _, err = cifar_tui(capsys, "plot", "confusion", "id=1", "-o", str(home / "c.svg"))
    assert status == 0, err


def test_each_format_is_what_its_name_says(home, capsys):
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF"), ("PDF", b"%PDF")):
        target = home / f"curves.{fmt}"
        assert cifar_tui(capsys, "plot", "curves", "--group", "-o", str(target))[0] == 0
        assert target.read_bytes().startswith(magic)


def test_a_png_is_one_column_wide_unless_told(home, capsys):
    from PIL import Image

    for width, expected in ((None, 3.4), ("7", 7.0)):
        target = home / f"w{width}.png"
        args = ["plot", "curves", "-o", str(target)] + (["--width", width] if width else [])
        assert cifar_tui(capsys, *args)[0] == 0
        pixels = Image.open(target).size[0]
        assert abs(pixels / 300 - expected) < 0.15 * expected, pixels  # 300 dpi, a tight box


def test_curves_plot_each_run_s_epochs_and_a_group_s_mean_with_its_95_percent_ci(home):
    figure = figure_of(home, "curves")
    accuracy, test_loss = figure.axes[:2]
    for line, run_id in zip(accuracy.get_lines(), range(1, 9)):
        assert list(zip(line.get_xdata(), line.get_ydata())) == epochs_of(home, run_id, "test_acc")
    for line, run_id in zip(test_loss.get_lines(), range(1, 9)):
        assert list(zip(line.get_xdata(), line.get_ydata())) == epochs_of(home, run_id, "test_loss")
    colours = [line.get_color() for line in accuracy.get_lines()]
    assert len(set(colours)) == 8  # a colour a run

    grouped = figure_of(home, "curves", "lr=0.001,0.01", grouped=True)
    accuracy = grouped.axes[0]
    line, band = accuracy.get_lines()[0], accuracy.collections[0]
    per_epoch = [[row[1] for row in epochs_of(home, run_id, "test_acc")] for run_id in (1, 3, 5)]
    for epoch, values in enumerate(zip(*per_epoch)):
        mean, sem = statistics.fmean(values), statistics.stdev(values) / math.sqrt(3)
        assert line.get_ydata()[epoch] == pytest.approx(mean)
        half = stats.t.ppf(0.975, 2) * sem  # scipy's t, independently of the store
        low, high = _band_at(band, epoch + 1)
        assert (low, high) == pytest.approx((mean - half, mean + half))
    texts, title = legend_texts(grouped)
    assert texts == ["lr=0.001 (n=3)", "lr=0.01 (n=3)"] and "95% CI" in title
    std = figure_of(home, "curves", "lr=0.001", "epochs=3", grouped=True, plus_minus="std").axes[0].collections[0]
    values = [row[0] for row in per_epoch]
    spread = statistics.stdev(values)
    assert _band_at(std, 1) == pytest.approx((statistics.fmean(values) - spread, statistics.fmean(values) + spread))


def _band_at(band, x):
    """(low, high) of a fill_between band at x."""
    vertices = band.get_paths()[0].vertices
    ys = sorted({round(float(y), 9) for vx, y in vertices if abs(vx - x) < 1e-9})
    return ys[0], ys[-1]


def test_the_batch_loss_is_the_store_s_raw_and_smoothed(home):
    from cifar_tui.tui.figures.kinds import smoothed

    figure = figure_of(home, "loss", "id=1,2")
    raw = [line for line in figure.axes[0].get_lines() if line.get_gid() == "raw"]
    smooth = [line for line in figure.axes[0].get_lines() if line.get_gid() == "smoothed"]
    db = sqlite3.connect(home / "home" / "runs.db")
    for line, run_id in zip(raw, (1, 2)):
        rows = db.execute("SELECT step, loss FROM losses WHERE run_id = ? ORDER BY step", [run_id]).fetchall()
        assert list(zip(line.get_xdata(), line.get_ydata())) == pytest.approx(rows)
    assert list(smooth[0].get_ydata()) == pytest.approx(smoothed(list(raw[0].get_ydata())))
    # Debiased: it starts at the first value, and a constant stays that constant.
    assert smoothed([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0]) and smoothed([5.0, 1.0])[0] == 5.0
    assert smoothed([1.0, 0.0])[1] == pytest.approx(0.9 * 0.1 / (1 - 0.81))


def test_pareto_marks_exactly_the_runs_no_other_beats(home):
    figure = figure_of(home, "pareto")
    db = sqlite3.connect(home / "home" / "runs.db")
    rows = db.execute("SELECT id, seconds, test_acc FROM runs ORDER BY id").fetchall()
    front = figure.axes[0].get_lines()
    [dashed] = [line for line in front if line.get_gid() == "front"]
    by_hand = sorted(
        (s, a) for i, s, a in rows if not any(s2 <= s and a2 >= a and (s2, a2) != (s, a) for _, s2, a2 in rows)
    )
    assert list(zip(dashed.get_xdata(), dashed.get_ydata())) == by_hand
    _, title = legend_texts(figure)
    assert f"({len(by_hand)} of 8)" in title


def test_the_confusion_matrix_is_a_group_s_summed_counts_by_true_class(home, capsys):
    figure = figure_of(home, "confusion", "lr=0.001", "epochs=3", grouped=True)
    [image] = figure.axes[0].get_images()
    hits = 80 + 70 + 60
    for true in range(10):
        row_total = hits + 3 * true * 9
        assert image.get_array()[true][true] == pytest.approx(100 * hits / row_total)
        assert image.get_array()[true][(true + 1) % 10] == pytest.approx(100 * 3 * true / row_total)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == CLASSES
    status, _, err = cifar_tui(capsys, "plot", "confusion", "lr=0.001", "-o", str(home / "c.pdf"))
    assert status == 2 and "one run or group at a time; the filter keeps 3 (1, 3, 5)" in err


def test_held_out_bars_and_severities_are_the_store_s(home):
    figure = figure_of(home, "heldout", "id=1,2")
    bars = figure.axes[0]
    first = [p for p in bars.patches if p.get_gid() == "entry-0"]
    assert [p.get_height() for p in first] == [61.5, 45.0, 50.0]  # test, cifar10-c, cifar10.1 of run 1
    second = [p for p in bars.patches if p.get_gid() == "entry-1"]
    assert [p.get_height() for p in second] == [58.0, 48.0]  # run 2 has cifar10.1 only
    assert "−11.5" in [t.get_text() for t in bars.texts]  # CIFAR-10.1's gap
    [severity] = [line for line in figure.axes[1].get_lines() if line.get_gid() == "cifar10-c-0"]
    assert list(severity.get_ydata()) == [61.5, 55.0, 50.0, 45.0, 40.0, 35.0]


def test_a_partial_test_set_is_marked_as_the_tables_mark_it(home):
    from cifar_tui.store.export import PARTIAL_NOTE

    for kind in ("curves", "pareto"):
        texts, title = legend_texts(figure_of(home, kind, "id=7,8"))
        assert texts[1] == "8: partial*" and PARTIAL_NOTE in title, kind
        assert texts[0] == f"7: {HOSTILE}"  # untouched, not marked


def test_hostile_names_are_literal_in_the_legend_and_in_the_pdf_text(home, capsys):
    figure = figure_of(home, "curves", "id=7")
    texts, _ = legend_texts(figure)
    assert texts == [f"7: {HOSTILE}"]
    assert not figure.legends[0].get_texts()[0].get_parse_math()
    target = home / "hostile.pdf"
    assert cifar_tui(capsys, "plot", "curves", "id=7", "-o", str(target))[0] == 0
    text = pypdf.PdfReader(target).pages[0].extract_text()
    assert HOSTILE in text.replace("\n", " ")
    # A name that starts with `_` would be hidden by matplotlib's own legend: it is shown.
    with sqlite3.connect(home / "home" / "runs.db") as db:
        db.execute("UPDATE runs SET name = '_hidden' WHERE id = 8")
    assert legend_texts(figure_of(home, "loss", "id=8"))[0] == ["8: _hidden"]


def test_the_pdf_embeds_every_font_it_uses(home, capsys):
    target = home / "fonts.pdf"
    assert cifar_tui(capsys, "plot", "heldout", "--group", "-o", str(target))[0] == 0
    reader = pypdf.PdfReader(target)
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for part in [font, *(d.get_object() for d in font.get("/DescendantFonts", []))]:
                if "/FontDescriptor" in part:
                    descriptor = part["/FontDescriptor"].get_object()
                    fonts.append(
                        (part["/BaseFont"], any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")))
                    )
    assert fonts and all(embedded for _, embedded in fonts), fonts
    assert all("DejaVu" in str(name) for name, _ in fonts)


@pytest.fixture
def searched(home):
    """Search s1 of four trials over lr (log) and batch size: two finished, one pruned, one queued."""
    store = RunStore(home / "home" / "runs.db")
    store.enqueue_study(space(lr="1e-4:1e-1", batch_size="64,128"), None, StudySettings(trials=4, parallel=4))
    ids = [store.claim_next("w").run_id for _ in range(3)]
    end(store, ids[0], per_epoch=[50.0, 61.5])
    end(store, ids[1], "pruned", per_epoch=[30.0])
    end(store, ids[2], per_epoch=[55.0, 66.0])
    store.close()
    return home


def test_a_search_figure_has_each_trial_the_best_so_far_and_each_field(searched, capsys):
    figure = figure_of(searched, "search", "s1")
    trials, lr, batch = figure.axes[:3]
    [filled] = [line for line in trials.get_lines() if line.get_gid() == "trials-full"]
    [hollow] = [line for line in trials.get_lines() if line.get_gid() == "trials-none"]
    [best] = [line for line in trials.get_lines() if line.get_gid() == "best"]
    db = sqlite3.connect(searched / "home" / "runs.db")
    rows = db.execute("SELECT trial, status, test_acc, config FROM runs WHERE sweep = 's1' ORDER BY trial").fetchall()
    finished = [(n, acc) for n, status, acc, _ in rows if status == "finished"]
    assert list(zip(filled.get_xdata(), filled.get_ydata())) == finished
    assert list(zip(hollow.get_xdata(), hollow.get_ydata())) == [(n, 30.0) for n, s, _, _ in rows if s == "pruned"]
    assert list(best.get_ydata()) == [61.5, 66.0]
    assert lr.get_xscale() == "log" and "lr" in lr.get_xlabel()
    from cifar_tui.tui.figures.style import rendered

    rendered(figure, "png")  # lays the ticks out
    ticks = [t.get_text() for t in lr.get_xticklabels() if t.get_text()]
    assert ticks and all(float(t) > 0 for t in ticks), ticks  # plain numbers: 0.001, never $10^{-3}$
    [points] = [line for line in lr.get_lines() if line.get_gid() == "lr-full"]
    assert list(points.get_xdata()) == [json.loads(c)["lr"] for _, s, _, c in rows if s == "finished"]
    assert [t.get_text() for t in batch.get_xticklabels()] == ["64", "128"]
    status, _, err = cifar_tui(capsys, "plot", "search", "s9", "-o", str(searched / "s.svg"))
    assert status == 2 and "no search named 's9'" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["curves", "-o", "f.jpg"], "'f.jpg' is no .pdf, .svg or .png file name"),
        (["curves", "lr=9", "-o", "f.pdf"], "no run matches 'lr=9'"),
        (["curves", "lr<<1", "-o", "f.pdf"], "filter"),
        (["search", "a", "b", "-o", "f.pdf"], "takes one search's name"),
        (["curves", "-o", "{home}/checkpoints/f.pdf"], "is in this home's checkpoints folder"),
        (["heldout", "id=7", "-o", "f.png"], "was evaluated on a held-out set"),
        (["curves", "--width", "0", "-o", "f.png"], "--width"),
    ],
)
def test_a_figure_that_cannot_be_made_is_one_line_and_exit_2(home, capsys, monkeypatch, args, words):
    monkeypatch.chdir(home)
    args = [a.format(home=home / "home") for a in args]
    before = (home / "home" / "runs.db").read_bytes()
    status, out, err = cifar_tui(capsys, "plot", *args)
    assert status == 2 and words in err and len(err.strip().splitlines()) <= 3, err
    assert (home / "home" / "runs.db").read_bytes() == before
    assert not list(home.glob("f.*"))


def test_without_matplotlib_plot_names_the_extra(home, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    status, _, err = cifar_tui(capsys, "plot", "curves", "-o", str(home / "f.pdf"))
    assert status == 1 and "pip install 'cifar-tui[plot]'" in err and len(err.strip().splitlines()) == 1
    assert not (home / "f.pdf").exists()


def test_a_figure_written_twice_is_the_same_bytes(home, capsys):
    for name in ("a.svg", "b.svg", "a.pdf", "b.pdf"):
        assert cifar_tui(capsys, "plot", "curves", "--group", "-o", str(home / name))[0] == 0
    assert (home / "a.svg").read_bytes() == (home / "b.svg").read_bytes()
    assert (home / "a.pdf").read_bytes() == (home / "b.pdf").read_bytes()
    assert (home / "a.svg").read_bytes().count(b"<path") > 10  # glyphs as paths: no font needed


def test_parallel_coordinates_place_each_run_on_each_field_s_axis(home, capsys):
    figure = figure_of(home, "parallel", "id=1,2,3,4,5,6")
    ax = figure.axes[0]
    db = sqlite3.connect(home / "home" / "runs.db")
    rows = db.execute(
        "SELECT id, json_extract(config, '$.lr'), json_extract(config, '$.seed'), test_acc FROM runs WHERE id <= 6"
    ).fetchall()
    accs = [acc for *_, acc in rows]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["lr (log)", "seed (integer)", "Test acc. (%)"]
    for run_id, lr, seed, acc in rows:
        [line] = [line for line in ax.get_lines() if line.get_gid() == f"run-{run_id}"]
        expected = [math.log10(lr / 0.001), seed / 2, (acc - min(accs)) / (max(accs) - min(accs))]
        assert list(line.get_ydata()) == pytest.approx(expected)
    best = max(rows, key=lambda r: r[3])[0]
    [line] = [line for line in ax.get_lines() if line.get_gid() == f"run-{best}"]
    assert line.get_color()[:3] == pytest.approx((0.993248, 0.906157, 0.143936))  # viridis' top: the best run
    status, _, err = cifar_tui(capsys, "plot", "parallel", "--objective", "lr", "-o", str(home / "p.pdf"))
    assert status == 2 and "'lr' is no result column" in err
    status, _, err = cifar_tui(capsys, "plot", "parallel", "id=1", "-o", str(home / "p.pdf"))
    assert status == 2 and "no config field varies" in err
