"""`cifar-tui report FILTER -o report.html | report.md`: one self-contained page with every
section, its figures inline, names escaped; Markdown with its figures beside it; and the HTML
in a real browser (headless Chromium, network off): no console message, every figure drawn,
a hostile name shown literally."""

import html
import json
import re
import shutil
import sqlite3
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from cifar_tui.store.runs import RunStore
from cifar_tui.store.study import StudySettings
from tests.store.test_study import end, space
from tests.tui.conftest import SNAPSHOT_ENVIRONMENT, finished_run
from tests.tui.test_cli import cifar_tui

pytest.importorskip("matplotlib")

HOSTILE = "<script>alert(1)</script> | *x* $y$ &amp; _z_"
SECTIONS = [
    "Runs",
    "Config fields that differ",
    "Figures",
    "Per-class accuracy (%)",
    "Held-out sets and robustness",
    "Environments",
    "Search s1",
]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Three seeds of two learning rates in two environments, a hostile name, held-out sets on
    run 1, a confusion matrix on run 2, and search s1 with two ended trials."""
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path / "home"))
    store = RunStore(tmp_path / "home" / "runs.db")
    for seed in range(3):
        for lr, env in ((0.001, SNAPSHOT_ENVIRONMENT), (0.01, SNAPSHOT_ENVIRONMENT | {"torch": "2.11.0"})):
            finished_run(store, accs=(40 + seed, 55 + seed), seed=seed, lr=lr, steps_per_epoch=10, environment=env)
    finished_run(store, accs=(45.0, 62.0), name=HOSTILE, steps_per_epoch=10, lr=0.003)
    store.enqueue_study(space(lr="1e-4:1e-1"), None, StudySettings(trials=2, parallel=2))
    for run_id, accs in zip((store.claim_next("w").run_id, store.claim_next("w").run_id), ([50.0, 60.0], [30.0])):
        end(store, run_id, "finished" if len(accs) == 2 else "pruned", per_epoch=accs)
    store.close()
    with sqlite3.connect(tmp_path / "home" / "runs.db") as db:
        evals = {
            "cifar10.1": {"acc": 48.0, "gap": 7.0},
            "cifar10-c": {"acc": 40, **{f"s{k}": 50 - 4 * k for k in range(1, 6)}},
        }
        db.execute("UPDATE runs SET evals = ? WHERE id = 1", [json.dumps(evals)])
        db.execute(
            "UPDATE epochs SET confusion = ? WHERE run_id = 2",
            [json.dumps([9 if i % 11 == 0 else 1 for i in range(100)])],
        )
    return tmp_path


class Page(HTMLParser):
    """The tags, headings, figures and text of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.headings, self.figures, self.text, self._in = [], [], [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "figure":
            self.figures.append(dict(attrs)["id"])
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in == "h2":
            self.headings.append(data)


def test_the_html_report_is_one_file_with_every_section_and_its_figures_inline(home, capsys):
    target = home / "report.html"
    status, _, err = cifar_tui(capsys, "report", "-o", str(target))
    assert status == 0 and err.strip() == f"wrote the report of 9 runs to {target}", err
    text = target.read_text()
    page = Page()
    page.feed(text)
    assert page.headings == SECTIONS
    assert page.figures == [
        "figure-curves", "figure-loss", "figure-pareto", "figure-heldout", "figure-confusion-2", "figure-search-s1",
    ]  # fmt: skip
    assert sum(tag == "svg" for tag, _ in page.tags) == len(page.figures)
    # Nothing to load: no script, no link, no image, no URL but the SVG namespaces.
    assert not {tag for tag, _ in page.tags} & {"script", "link", "img", "iframe", "object"}
    urls = set(re.findall(r"(?:https?|ftp)://[^\s\"'<>)]+", text))
    assert urls == {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert "default-src 'none'" in text
    # The hostile name is text: escaped in the page, whole in what a reader sees.
    assert html.escape(HOSTILE) in text and HOSTILE not in text
    assert any(HOSTILE in chunk for chunk in page.text)
    # The environments: what all share, and torch, in which the groups' runs differ.
    assert "2.11.0" in text and "NVIDIA H200" in text
    # The search's trials: both, with their status and objective.
    assert re.search(r"<td[^>]*>0</td><td>finished</td>.*?<td[^>]*>60</td>", text)


def test_the_html_report_of_groups_shows_each_group_s_mean_and_band(home, capsys):
    target = home / "groups.html"
    assert cifar_tui(capsys, "report", "lr=0.001,0.01", "--group", "--plus-minus", "std", "-o", str(target))[0] == 0
    text = target.read_text()
    assert "mean ± std" in text and "(n=3)" in text and "56.00 ± 1.00" in text


def test_the_markdown_report_links_its_figures_written_beside_it(home, capsys):
    target = home / "my report.md"
    status, _, err = cifar_tui(capsys, "report", "-o", str(target))
    assert status == 0, err
    text = target.read_text()
    links = re.findall(r"!\[[^\]]*\]\(<([^>]+)>\)", text)
    assert links == [
        f"my report_figures/{name}.svg" for name in ("curves", "loss", "pareto", "heldout", "confusion-2", "search-s1")
    ]
    for link in links:
        assert (home / link).read_bytes().startswith(b"<?xml")
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == SECTIONS
    # A name is a cell's text, never markup: no raw tag, no cell border, no emphasis.
    row = next(line for line in text.splitlines() if "alert" in line and line.startswith("| 7 "))
    assert "<script>" not in row and "\\|" in row and "\\*x\\*" in row


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-o", "r.pdf"], "'r.pdf' is no .html or .md file name"),
        (["lr=9", "-o", "r.html"], "no run matches 'lr=9'"),
        (["-o", "{home}/checkpoints/r.html"], "is in this home's checkpoints folder"),
    ],
)
def test_a_report_that_cannot_be_made_is_one_line_and_exit_2(home, capsys, monkeypatch, args, words):
    monkeypatch.chdir(home)
    status, _, err = cifar_tui(capsys, "report", *[a.format(home=home / "home") for a in args])
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not list(home.glob("r.*")) and not list(home.glob("r_figures"))


# ------------------------------------------------------------------ in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FRAME = (255, 0, 255)  # the test's outline around each figure, to find them in the screenshot
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]  # the network off


def chromium(page, *mode):
    """(stdout, its console messages) of headless Chromium loading the page, the network off."""
    done = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
         "--v=0", *OFFLINE, *mode, page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def drawn_figures(page, tmp_path):
    """For each figure of the page, as Chromium draws it: the share of its area that is not white."""
    from PIL import Image
    from scipy import ndimage

    framed = tmp_path / f"framed-{page.name}"
    framed.write_text(page.read_text().replace("</style>", "figure { outline: 3px solid #ff00ff; }</style>", 1))
    shot = tmp_path / "shot.png"
    _, console = chromium(framed, "--window-size=1280,9000", f"--screenshot={shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    frame = np.all(pixels == FRAME, axis=2)
    labels, count = ndimage.label(frame)
    shares = []
    for box in ndimage.find_objects(labels):
        inside = pixels[box][6:-6, 6:-6]
        if inside.shape[0] > 50 and inside.shape[1] > 50:
            shares.append(float(np.mean(np.any(inside < 235, axis=2))))
    return shares, console


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (.ci/run installs Debian's chromium)")
def test_chromium_draws_the_report_offline_with_no_console_message_and_names_literal(home, capsys, tmp_path):
    target = home / "report.html"
    assert cifar_tui(capsys, "report", "-o", str(target))[0] == 0
    dom, console = chromium(target, "--dump-dom")
    assert console == [], console
    assert html.escape(HOSTILE) in dom  # the browser's text node is the name, as typed
    assert "<script>alert(1)</script>" not in dom
    shares, console = drawn_figures(target, tmp_path)
    assert console == []
    assert len(shares) == 6, shares  # every figure is on the page
    assert all(share > 0.03 for share in shares), shares  # and something is drawn in each

    # The checks can fail: a figure left blank and an image from the network are both caught.
    broken = home / "broken.html"
    text = target.read_text()
    start = text.index("<svg", text.index('id="figure-loss"'))
    blank = (
        text[:start]
        + '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 8"></svg>'
        + text[text.index("</svg>", start) + 6 :]
    )
    broken.write_text(blank.replace("<h1>", '<img src="http://example.com/x.png"><h1>', 1))
    shares, console = drawn_figures(broken, tmp_path)
    assert sorted(shares)[0] < 0.01 and len(shares) == 6
    assert any("example.com" in line for line in console)
