import os
import socket
import subprocess
from datetime import UTC, datetime, timedelta

from cifar_tui.store.liveness import owner_alive, started_at
from cifar_tui.store.runs import RunStore

HOST = socket.gethostname()
CONFIG = {"model": "seed-cnn", "dataset": "synthetic", "epochs": 1}


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def ago(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def test_owner_alive():
    assert owner_alive(f"{HOST}:{os.getpid()}", ago(seconds=1))
    assert not owner_alive(f"{HOST}:{dead_pid()}", ago(seconds=1))
    assert owner_alive("elsewhere:123", ago(seconds=30))
    assert not owner_alive("elsewhere:123", ago(minutes=2))
    # Alive on this host but silent for minutes (frozen by Ctrl-Z, a suspended laptop): it keeps its run ...
    beat = started_at(os.getpid()) + timedelta(seconds=2)
    assert owner_alive(f"{HOST}:{os.getpid()}", beat.isoformat(), now=beat + timedelta(minutes=5))
    # ... unless the pid now belongs to a process that started after the owner's last heartbeat
    assert not owner_alive(f"{HOST}:{os.getpid()}", (datetime.now(UTC) - timedelta(days=400)).isoformat())


def test_opening_the_store_interrupts_only_orphans(tmp_path):
    path = tmp_path / "runs.db"
    store = RunStore(path)
    mine, dead, remote_fresh, remote_stale, queued = (store.enqueue(CONFIG) for _ in range(5))
    store.claim(mine)  # this process: alive
    store.claim(dead, worker=f"{HOST}:{dead_pid()}")
    store.claim(remote_fresh, worker="gpu-box:4242")
    store.claim(remote_stale, worker="gpu-box:4343")
    with store.write():
        store.db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", [ago(minutes=5), remote_stale])
    store.close()
    reopened = RunStore(path)
    statuses = {row["id"]: row["status"] for row in reopened.runs()}
    assert statuses == {
        mine: "running",
        dead: "interrupted",
        remote_fresh: "running",
        remote_stale: "interrupted",
        queued: "queued",
    }
    assert "resume it" in reopened.run(dead)["error"]


def test_heartbeat_stamps_only_this_workers_runs():
    store = RunStore()
    a, b = store.enqueue(CONFIG), store.enqueue(CONFIG)
    store.claim(a, worker="w1")
    store.claim(b, worker="w2")
    with store.write():
        store.db.execute("UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00+00:00'")
    store.heartbeat("w1")
    assert store.run(a)["heartbeat_at"] > "2026" and store.run(b)["heartbeat_at"].startswith("2000")


def test_requeue_only_ended_runs():
    store = RunStore()
    a, b = store.enqueue(CONFIG), store.enqueue(CONFIG)
    store.claim(a)
    assert not store.requeue(a) and not store.requeue(b)  # running; queued
    store.claim(b)
    with store.write():
        store.db.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", [b])
    assert store.requeue(b) and store.run(b)["status"] == "queued"
