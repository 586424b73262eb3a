import threading

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.store.runs import RunStore

CONFIG = {"model": "seed-cnn", "dataset": "synthetic", "epochs": 2, "name": "a"}


def test_enqueue_and_claim_in_order():
    store = RunStore()
    ids = [store.enqueue(dict(CONFIG, name=str(i))) for i in range(3)]
    claimed = store.claim_next("w1")
    assert claimed == (ids[0], dict(CONFIG, name="0"), 1)  # the run's first claim: token 1
    assert store.run(ids[0])["status"] == "running" and store.run(ids[0])["worker"] == "w1"
    assert [r["id"] for r in store.queue()] == ids
    assert store.claim(ids[2])[0] == ids[2]
    assert store.claim(ids[2]) is None  # not queued any more
    assert store.claim_next()[0] == ids[1]
    assert store.claim_next() is None


def test_two_threads_never_claim_the_same_run(tmp_path):
    path = tmp_path / "runs.db"
    setup = RunStore(path)
    ids = {setup.enqueue(CONFIG) for _ in range(60)}
    claims: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def claimer(name):
        store = RunStore(path)  # a connection per thread, as in the app
        barrier.wait()
        while (claimed := store.claim_next(name)) is not None:
            claims[name].append(claimed[0])

    threads = [threading.Thread(target=claimer, args=(n,)) for n in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claims["a"] + claims["b"]) == sorted(ids)
    assert not set(claims["a"]) & set(claims["b"])


def test_move_reorders_queued_runs():
    store = RunStore()
    a, b, c = (store.enqueue(CONFIG) for _ in range(3))
    assert store.move(c, -1)
    assert [r["id"] for r in store.queue()] == [a, c, b]
    assert store.move(a, +5)
    assert [r["id"] for r in store.queue()] == [c, b, a]
    assert not store.move(c, -1)  # already first
    assert store.claim_next()[0] == c


def test_cancel_queued():
    store = RunStore()
    a, b = store.enqueue(CONFIG), store.enqueue(CONFIG)
    store.claim(a)
    assert not store.cancel_queued(a)  # running: the worker cancels it
    assert store.cancel_queued(b)
    assert store.run(b)["status"] == "cancelled" and store.claim_next() is None


def test_delete_cascades_to_epochs_and_losses():
    store = RunStore()
    a, b = store.enqueue(CONFIG), store.enqueue(CONFIG)
    for run_id in (a, b):
        store.db.execute("INSERT INTO epochs (run_id, epoch, step) VALUES (?, 1, 10)", [run_id])
        store.db.conn.executemany("INSERT INTO losses VALUES (?, ?, 1, 0.5)", [(run_id, s) for s in range(10)])
    store.db.conn.commit()
    assert store.delete(a)
    assert store.run(a) is None and store.loss_count(a) == 0 and store.epochs(a) == []
    assert store.loss_count(b) == 10 and len(store.epochs(b)) == 1


def test_a_running_run_is_not_deleted():
    store = RunStore()
    a = store.enqueue(CONFIG)
    store.claim(a)
    assert not store.delete(a) and store.run(a) is not None


def test_loss_curve_is_downsampled_in_sql():
    store = RunStore()
    run_id = store.enqueue(CONFIG)
    store.db.conn.executemany("INSERT INTO losses VALUES (?, ?, 1, ?)", [(run_id, s, float(s)) for s in range(10_000)])
    store.db.conn.commit()
    curve = store.loss_curve(run_id, max_points=100)
    assert len(curve) == 100
    assert curve[0] == (49.5, 49.5) and curve[-1] == (9949.5, 9949.5)
    assert store.loss_curve(store.enqueue(CONFIG)) == []


def test_runs_by_ids_keeps_the_order_asked():
    store = RunStore()
    a, b, c = (store.enqueue(CONFIG) for _ in range(3))
    assert [r["id"] for r in store.runs([c, a])] == [c, a]
    assert [r["id"] for r in store.runs()] == [c, b, a]


def test_the_store_refuses_a_note_or_a_tag_the_command_line_refuses():
    store = RunStore(None)
    run_id = store.enqueue(make_config(dataset="synthetic").to_dict())
    with pytest.raises(ValueError, match="control character U\\+001B"):
        store.set_note(run_id, "a\x1b[31m")
    with pytest.raises(ValueError, match="at most 2,000 characters"):
        store.set_note(run_id, "x" * 2001)
    with pytest.raises(ValueError, match="is not a tag"):
        store.tag(run_id, ["a,b"])
    assert store.run(run_id)["note"] in (None, "") and store.run(run_id)["tags"] == []


def test_the_tag_syntax_is_one_rule_for_the_command_line_and_the_app():
    assert RunStore.tag_changes(["+base", "plain", "-old"]) == (["base", "plain"], ["old"])
    for bad in (["+"], ["-"], ["+a,b"], ["-x\x1b"]):
        with pytest.raises(ValueError, match="is not a tag"):
            RunStore.tag_changes(bad)


def test_the_fields_that_vary_among_chosen_runs_are_the_stores_rule():
    store = RunStore(None)
    a = store.enqueue(make_config(dataset="synthetic", lr=1e-3, seed=1).to_dict())
    b = store.enqueue(make_config(dataset="synthetic", lr=3e-3, seed=1).to_dict())
    c = store.enqueue(make_config(dataset="synthetic", lr=1e-3, seed=2, model="net.py:Net", model_source="x").to_dict())
    assert store.varying_fields_of([a, b]) == ["lr"]
    assert store.varying_fields_of([a, c]) == ["model", "model_source", "seed"]
