"""`cifar-tui worker --devices`: one worker process per device, all from one queue."""

import signal
import time

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.store.runs import RunStore
from cifar_tui.tui.views.queue_view import COLUMNS
from cifar_tui.tui.worker.device_pool import DevicesError, expand_devices, threads_each
from cifar_tui.tui.worker.job_source import queued_for
from tests.helpers import cli_process, query, wait_for


def test_all_means_every_gpu_and_the_cpu_only_without_one():
    assert expand_devices("all", ["cuda:0", "cuda:1", "cpu"]) == ["cuda:0", "cuda:1"]
    assert expand_devices("all", ["cpu"]) == ["cpu"]
    assert expand_devices(" cpu, cpu ", ["cpu"]) == ["cpu", "cpu"]
    with pytest.raises(DevicesError, match="empty name"):
        expand_devices("cuda:0,,cuda:1", ["cuda:0", "cuda:1", "cpu"])


def test_the_cores_are_split_between_the_devices(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert threads_each(["cpu", "cpu"]) == 8
    assert threads_each(["cpu"] * 40) == 1


def test_a_device_takes_runs_queued_for_it_or_for_auto_only():
    store = RunStore()
    on = {device: store.enqueue(make_config(device=device).to_dict()) for device in ("cuda:1", "cpu", "auto", "cuda")}
    assert store.claim_next("w0", queued_for("cuda:0"))[0] == on["auto"]
    assert store.claim_next("w0", queued_for("cuda:0"))[0] == on["cuda"]
    assert store.claim_next("w0", queued_for("cuda:0")) is None  # cuda:1's and the CPU's runs wait
    assert store.claim_next("w1", queued_for("cuda:1"))[0] == on["cuda:1"]
    assert store.claim_next("w2")[0] == on["cpu"]  # a worker without a device takes anything


def test_a_pool_is_paused_and_trains_as_one_worker():
    store = RunStore()
    store.register_worker("pool:1", ["cpu", "cpu"])
    for member in ("host:2", "host:3"):
        store.register_worker(member, ["cpu"], pool="pool:1")
    store.register_worker("other:4", ["cpu"])
    a, b, c = (store.enqueue(make_config().to_dict()) for _ in range(3))
    store.claim(a, "host:2")
    store.claim(b, "host:3")
    store.claim(c, "other:4")
    assert store.training_runs_of("pool:1") == [a, b]
    assert store.training_runs_of("host:3") == [b]
    store.pause_worker("pool:1")
    assert store.worker_paused("host:2") and store.worker_paused("host:3") and store.worker_paused("pool:1")
    assert not store.worker_paused("other:4")
    store.pause_worker("pool:1", False)
    assert not store.worker_paused("host:2")


@pytest.mark.slow
def test_cpu_cpu_trains_two_runs_at_once_and_ctrl_c_stops_the_pool(tmp_path):
    for seed, epochs in ((0, 1), (1, 1), (2, 20)):  # the third is still training at Ctrl-C
        added = cli_process(
            tmp_path,
            "queue",
            "add",
            "--dataset",
            "synthetic",
            "--epochs",
            str(epochs),
            "--limit-batches",
            "150",
            "--seed",
            str(seed),
        )
        assert added.wait() == 0
    pool = cli_process(tmp_path, "worker", "--devices", "cpu,cpu")
    wait_for(lambda: query(tmp_path, "SELECT count(*) FROM runs WHERE status = 'finished'") == [(2,)], 180)
    runs = query(tmp_path, "SELECT id, started_at, finished_at, worker, device_name FROM runs ORDER BY id")
    (_, start_1, end_1, worker_1, threads), (_, start_2, end_2, worker_2, _) = runs[:2]
    assert start_2 < end_1 and start_1 < end_2  # side by side, not one after the other
    assert worker_1 != worker_2  # a process per device
    assert threads.startswith(f"{threads_each(['cpu', 'cpu'])} CPU thread")
    wait_for(lambda: query(tmp_path, "SELECT status FROM runs WHERE id = 3") == [("running",)], 60)
    time.sleep(1)
    pool.send_signal(signal.SIGINT)
    out, _ = pool.communicate(timeout=60)
    assert pool.returncode == 130, out  # 128 + SIGINT, as Ctrl-C on any command
    assert query(tmp_path, "SELECT status FROM runs WHERE id = 3") == [("cancelled",)]
    assert query(tmp_path, "SELECT count(*) FROM losses WHERE run_id IN (1, 2)") == [(300,)]
    assert "a worker on each of cpu, cpu" in out


@pytest.mark.slow
async def test_the_app_engine_takes_devices_remembers_them_and_shows_where_runs_train(tmp_path):
    from textual.widgets import DataTable, Input

    from cifar_tui.tui.app import DEVICES_SETTING, CifarApp
    from cifar_tui.tui.worker.home import Home

    home = Home(tmp_path)
    app = CifarApp(home)
    async with app.run_test(size=(140, 40)) as pilot:
        first_engine = app.engine.worker_name
        app.action_engine_devices()
        await pilot.pause()
        app.screen.query_one(Input).value = "cpu, cpu"
        await pilot.press("enter")
        await pilot.pause()
        assert home.setting(DEVICES_SETTING) == "cpu,cpu"
        assert app.engine.devices == "cpu,cpu" and app.engine.worker_name != first_engine
        store = home.store()
        for seed in range(2):
            store.enqueue(make_config(dataset="synthetic", epochs=30, limit_batches=100, seed=seed).to_dict())
        await pilot.press("2")
        deadline = time.monotonic() + 120
        while len(running := app.engine.training()) < 2 or not all(store.run(i)["device"] for i in running):
            assert time.monotonic() < deadline, "the pool never trained two runs at once"
            await pilot.pause(0.2)
        await pilot.pause(1.0)  # the Queue's next reload
        table = app.query_one("#queue-table", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        device = COLUMNS.index("device")  # the fields that vary (seed) come after it
        assert [(str(row[1]), str(row[device])) for row in rows] == [("running", "cpu"), ("running", "cpu")]
        app.action_engine_devices()
        await pilot.pause()
        app.screen.query_one(Input).value = "cpu,,cpu"
        await pilot.press("enter")
        await pilot.pause()
        assert home.setting(DEVICES_SETTING) == "cpu,cpu"  # a bad list is refused, the old one stays
    assert store.training_runs_of(first_engine) == [] and all(
        store.run(run_id)["status"] == "cancelled" for run_id in (1, 2)
    )  # quitting cancelled both runs of the pool
    assert CifarApp(home).home.setting(DEVICES_SETTING) == "cpu,cpu"


@pytest.mark.slow
def test_a_member_killed_mid_run_leaves_its_run_interrupted_and_is_replaced(tmp_path):
    import os

    for seed in range(3):
        added = cli_process(tmp_path, "queue", "add", "--dataset", "synthetic", "--epochs", "30", "--seed", str(seed))
        assert added.wait() == 0
    pool = cli_process(tmp_path, "worker", "--devices", "cpu,cpu")
    try:
        wait_for(lambda: query(tmp_path, "SELECT count(*) FROM runs WHERE status = 'running'") == [(2,)], 120)
        wait_for(lambda: query(tmp_path, "SELECT count(*) FROM losses WHERE run_id = 1") != [(0,)], 120)
        [(worker,)] = query(tmp_path, "SELECT worker FROM runs WHERE id = 1")
        os.kill(int(worker.rpartition(":")[2]), signal.SIGKILL)
        # The pool starts a new member, whose store marks the dead one's run interrupted, and it
        # takes the next queued run.
        wait_for(lambda: query(tmp_path, "SELECT status FROM runs WHERE id = 1") == [("interrupted",)], 60)
        wait_for(lambda: query(tmp_path, "SELECT status FROM runs WHERE id = 3") == [("running",)], 60)
        [(error,)] = query(tmp_path, "SELECT error FROM runs WHERE id = 1")
        assert "resume it" in error
        assert query(tmp_path, "SELECT status FROM runs WHERE id = 2") == [("running",)]  # the other device goes on
    finally:
        pool.send_signal(signal.SIGINT)
        out, _ = pool.communicate(timeout=60)
    assert "stopped (exit -9); starting a new one" in out
    assert query(tmp_path, "SELECT status FROM runs WHERE id IN (2, 3) ORDER BY id") == [("cancelled",), ("cancelled",)]


def test_a_member_that_keeps_dying_as_it_starts_is_given_up_after_three_tries(monkeypatch):
    from cifar_tui.tui.worker import device_pool

    class Dead:
        def poll(self):
            return 1

    starts = []
    monkeypatch.setattr(device_pool.Member, "start", lambda member: starts.append(member.device))
    member = device_pool.Member("cuda:3", [], process=Dead(), started_at=time.monotonic())
    for _ in range(3):
        device_pool._look_after(member, until_empty=False)
    assert starts == ["cuda:3", "cuda:3"] and member.done
    lived = device_pool.Member("cuda:0", [], process=Dead(), started_at=time.monotonic() - 60, quick_deaths=2)
    device_pool._look_after(lived, until_empty=False)  # it trained a while: a kill, not a crash loop
    assert not lived.done and lived.quick_deaths == 0 and starts[-1] == "cuda:0"
