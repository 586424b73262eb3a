"""The store is never an output, an export is all or nothing, and a log that cannot be written
stays off the screen: each checked with real processes (issue 22, defects 4 to 6)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cli_process, finish, query
from tests.tui.test_faults import QUICK, tiny_disk  # noqa: F401 (a fixture)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    status, _, err = finish(cli_process(home, "queue", "add", "--preset", "seed-cnn", *QUICK[:4], "--seed", "0..2"))
    assert status == 0, err
    return home


@pytest.mark.slow
def test_export_onto_the_store_or_its_files_is_refused_and_the_runs_stay(home, tmp_path):
    (home / "checkpoints").mkdir(exist_ok=True)
    os.symlink(home / "runs.db", tmp_path / "link.db")
    for target, said in (
        (home / "runs.db", "is this home's run store"),
        (home / "runs.db-wal", "write-ahead log"),
        (tmp_path / "link.db", "is this home's run store"),
        (home / "checkpoints" / "table.csv", "in this home's checkpoints folder"),
    ):
        status, out, err = finish(cli_process(home, "export", "-o", str(target)))
        assert status == 2, err
        (line,) = err.strip().splitlines()
        assert (
            line.startswith(f"cifar-tui: error: output: {target} ") and said in line and "choose another file" in line
        )
    assert query(home, "SELECT count(*) FROM runs") == [(3,)]
    status, out, _ = finish(cli_process(home, "runs", "--json"))
    assert status == 0 and len(json.loads(out)) == 3


@pytest.mark.slow
def test_a_failed_export_leaves_the_old_file_as_it_was(home, tiny_disk):  # noqa: F811
    good = tiny_disk / "table.json"
    finish(cli_process(home, "export", "--format", "json", "-o", str(good)))
    before = good.read_bytes()
    assert len(json.loads(before)) == 3
    filler = os.open(tiny_disk / "filler", os.O_WRONLY | os.O_CREAT)  # the disk, full to the last byte
    try:
        while os.write(filler, b"x" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(filler)
    status, _, err = finish(cli_process(home, "export", "--format", "json", "--history", "-o", str(good)))
    assert status == 1
    assert err.strip().splitlines() == [
        f"cifar-tui: error: cannot write {good}: No space left on device; {good} is unchanged"
    ]
    assert good.read_bytes() == before
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "table.json"]  # no temporary file left


@pytest.mark.slow
def test_a_log_file_that_cannot_be_written_costs_one_line_not_tracebacks(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "cifar-tui.log").symlink_to("/dev/full")  # every write: no space left on device
    logs = (
        "import logging, sys; from pathlib import Path; from cifar_tui.tui.worker.home import Home; "
        "Home(Path(sys.argv[1])).start_log(); "
        "[logging.getLogger('cifar_tui.store.recorder').warning('store write failed (%s); retrying', i) for i in range(50)]; "
        "print('went on')"
    )
    done = subprocess.run([sys.executable, "-c", logs, str(home)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "went on\n"
    assert done.stderr.splitlines() == [
        f"cifar-tui: note: cannot write {home / 'cifar-tui.log'} (No space left on device); logging to it is off"
    ]


def test_an_export_into_a_fifo_writes_through_it_and_leaves_the_fifo(tmp_path):
    import stat
    import threading

    from cifar_tui.tui.output_file import write_output
    from cifar_tui.tui.worker.home import Home

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    write_output(Home(tmp_path / "home"), fifo, "id,acc\n1,61.50\n")
    reader.join(10)
    assert got == ["id,acc\n1,61.50\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.slow
def test_export_to_dev_stdout_writes_into_the_shells_file_not_over_it(home, tmp_path):
    shell_file = tmp_path / "out.csv"
    with open(shell_file, "w") as opened:  # as `cifar-tui export -o /dev/stdout > out.csv` opens it
        before = os.fstat(opened.fileno()).st_ino
        process = subprocess.run(
            [sys.executable, "-m", "cifar_tui.tui.cli", "export", "-o", "/dev/stdout"],
            env={**os.environ, "CIFAR_TUI_HOME": str(home)},
            stdout=opened,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert process.returncode == 0, process.stderr
    assert os.stat(shell_file).st_ino == before and shell_file.read_text().startswith("id,")


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm")
def test_a_regular_file_under_dev_is_replaced_whole_as_any_other(tmp_path):
    """Only descriptors (/dev/stdout, /proc/self/fd/N) and files that are not regular are written
    through: a table in /dev/shm is written beside and renamed into place, never half-written."""
    from cifar_tui.tui.output_file import write_output
    from cifar_tui.tui.worker.home import Home

    table = Path("/dev/shm") / f"cifar-tui-test-{os.getpid()}.csv"
    table.write_text("old\n")
    try:
        before = os.stat(table).st_ino
        write_output(Home(tmp_path / "home"), table, "id,acc\n1,61.50\n")
        assert table.read_text() == "id,acc\n1,61.50\n" and os.stat(table).st_ino != before
    finally:
        table.unlink()


@pytest.mark.slow
def test_a_worker_and_its_fresh_training_children_say_once_that_the_log_cannot_be_written(tmp_path):
    """Each failed run gets a fresh training child, which logs the run's traceback: the note that
    the log is off is the worker's and its children's together, one line on their terminal."""
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "boom.py").write_text(
        "from torch import nn\n"
        "class Boom(nn.Linear):\n"
        "    def __init__(self, num_classes=10):\n"
        "        super().__init__(3 * 32 * 32, num_classes)\n"
        "    def forward(self, x):\n"
        "        raise ValueError('boom in forward')\n"
    )
    tiny = ("--dataset", "synthetic", "--device", "cpu", "--epochs", "1", "--limit-batches", "3")
    for _ in range(2):
        status, _, err = finish(cli_process(home, "queue", "add", *tiny, "--model", "boom.py:Boom", cwd=tmp_path))
        assert status == 0, err
    (home / "cifar-tui.log").symlink_to("/dev/full")
    status, out, err = finish(cli_process(home, "worker", "--until-empty"), timeout=180)
    assert status == 0 and out.count("failed: model: Boom failed") == 2, out + err
    note = f"cifar-tui: note: cannot write {home / 'cifar-tui.log'} (No space left on device); logging to it is off"
    assert [line for line in err.splitlines() if "cifar-tui: note" in line] == [note], err
