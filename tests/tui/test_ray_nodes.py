"""A Ray cluster of two nodes on this machine (two `ray start` processes, a CPU each), the
dispatcher in a real `cifar-tui worker --ray ADDRESS` process, and the second node lost while
its actor trains: the run ends interrupted, "its Ray node was lost", nothing trains twice, and
the dispatcher goes on with the head.

The cluster keeps its files in a folder of its own (RAY_TMPDIR): `ray start` records "the
current cluster" there, and a record left in /tmp/ray would send any later `ray.init()` on this
machine (tests/tui/test_ray.py's) to a cluster that is gone.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import cli_process, finish, query, wait_for

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))
TINY = ("--preset", "seed-cnn", "--dataset", "synthetic", "--device", "cpu", "--epochs", "3")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process here."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            found[int(entry)] = (parent, cmdline)
    return found


@pytest.fixture
def two_nodes():
    """(address, env): a head and a second node (custom resource `second`), a CPU each."""
    if not os.path.exists(RAY):
        pytest.skip("no `ray` command beside this Python")
    folder = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths have a length limit
    # no token: whether Ray would want one depends on what earlier Ray sessions left in ~/.ray
    env = {**os.environ, "RAY_TMPDIR": folder, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    address = f"127.0.0.1:{free_port()}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats", "--block"]
    started = [
        subprocess.Popen(
            [RAY, "start", "--head", f"--port={address.split(':')[1]}", "--include-dashboard=false", *common],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        wait_for(lambda: any("gcs_server" in cmd for _, cmd in processes().values()), timeout=60)
        second = [RAY, "start", f"--address={address}", '--resources={"second": 1}', *common]
        started.append(subprocess.Popen(second, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: second_raylet() is not None, timeout=60)
        yield address, env
    finally:
        for node in reversed(started):  # `ray start --block` stops its node's processes on SIGTERM
            if node.poll() is None:
                node.send_signal(signal.SIGTERM)
        for node in started:
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                node.kill()
        shutil.rmtree(folder, ignore_errors=True)


def second_raylet() -> int | None:
    return next((pid for pid, (_, cmd) in processes().items() if "raylet/raylet" in cmd and "second,1" in cmd), None)


def actor_parents() -> list[int]:
    """The raylet of each node that has a run's actor (an actor's process is its raylet's child)."""
    return [parent for parent, cmd in processes().values() if cmd.startswith("ray::RemoteRun")]


def test_a_lost_node_ends_its_run_interrupted_and_the_dispatcher_goes_on_with_the_head(tmp_path, two_nodes):
    address, env = two_nodes
    home = tmp_path / "home"
    for seed in range(3):  # two start at once, one a node; the third waits for a CPU
        status, _, err = finish(cli_process(home, "queue", "add", *TINY, "--limit-batches", "400", "--seed", str(seed)))
        assert status == 0, err
    dispatcher = cli_process(home, "worker", "--ray", address, "--cpus-per-run", "1", "--until-empty", env=env)
    raylet = second_raylet()
    wait_for(lambda: actor_parents().count(raylet) == 1 and len(actor_parents()) == 2, timeout=120)
    wait_for(lambda: query(home, "SELECT count(*) FROM epochs") >= [(1,)], timeout=120)  # both train
    running = {run_id for (run_id,) in query(home, "SELECT id FROM runs WHERE status = 'running'")}
    os.kill(raylet, signal.SIGKILL)  # the second node is gone, its actor with it
    status, out, err = finish(dispatcher, timeout=300)
    assert status == 0, err
    rows = query(home, "SELECT id, status, error, epochs_done, claim FROM runs ORDER BY id")
    lost = [row for row in rows if row[1] == "interrupted"]
    assert len(lost) == 1 and lost[0][0] in running, rows
    assert lost[0][2].startswith("its Ray node was lost (node ") and lost[0][2].endswith("); resume it"), lost
    assert [row[1] for row in rows if row is not lost[0]] == ["finished", "finished"], rows  # on the head
    assert all(claim == 1 for *_, claim in rows)  # each run taken once: the lost one is not retried
    for run_id, state, _, epochs_done, _ in rows:
        losses = query(home, "SELECT count(*), count(DISTINCT step) FROM losses WHERE run_id = ?", (run_id,))
        assert losses[0][0] == losses[0][1] == (1200 if state == "finished" else losses[0][0])  # no step twice
        epochs = query(home, "SELECT epoch FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,))
        assert epochs == [(e,) for e in range(1, epochs_done + 1)]
    assert f"run {lost[0][0]}: interrupted: its Ray node was lost" in out
