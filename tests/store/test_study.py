"""Searches (store/study.py): proposals through the queue's claims, and pruning decisions
checked against decisions computed by hand."""

import json
import math
import sqlite3
from types import SimpleNamespace

import pytest

from cifar_tui.engine.config import ConfigError
from cifar_tui.engine.sweep import parse_value
from cifar_tui.store.runs import RunStore
from cifar_tui.store.study import StudySettings, best_so_far

FIXED = {"dataset": "synthetic", "epochs": 3}


def space(**typed) -> dict:
    return {**FIXED, **{field: parse_value(field, text) for field, text in typed.items()}}


def start(store, settings, name=None, **typed):
    return store.enqueue_study(space(**typed), None, settings, name)


def end(store, run_id, status="finished", per_epoch=(), final=None):
    """Record a claimed trial's epochs (test acc. per epoch) and its ending."""
    for epoch, acc in enumerate(per_epoch, 1):
        store.db.execute(
            "INSERT INTO epochs (run_id, epoch, step, test_acc) VALUES (?, ?, ?, ?)", [run_id, epoch, epoch, acc]
        )
    value = final if final is not None else (per_epoch[-1] if per_epoch else None)
    store.db.execute(
        "UPDATE runs SET status = ?, test_acc = ?, epochs_done = ? WHERE id = ?",
        [status, value, len(per_epoch), run_id],
    )
    store.db.conn.commit()


def trials(store):
    return store.db.execute("SELECT id, trial, status, config FROM runs ORDER BY trial").fetchall()


def test_a_search_keeps_k_trials_in_flight_and_stops_at_n():
    store = RunStore()
    name, ids = start(store, StudySettings(search="tpe", trials=5, parallel=2), lr="1e-4:1e-1")
    assert name == "s1" and ids == [1, 2]
    assert [t[1] for t in trials(store)] == [0, 1]
    first = store.claim_next("w")
    assert first.run_id == 1 and len(trials(store)) == 2  # one running, one queued: K = 2 in flight
    end(store, 1, per_epoch=[50.0, 60.0, 70.0])
    second = store.claim_next("w")
    assert second.run_id == 2 and [t[1] for t in trials(store)] == [0, 1, 2]  # trial 2 replaced trial 0
    claimed = [1, 2]
    while (claim := store.claim_next("w")) is not None or any(t[2] == "running" for t in trials(store)):
        if claim is not None:
            claimed.append(claim.run_id)
        for run_id, _, status, _ in trials(store):
            if status == "running":
                end(store, run_id, per_epoch=[55.0])
    assert sorted(claimed) == [1, 2, 3, 4, 5] and [t[1] for t in trials(store)] == [0, 1, 2, 3, 4]
    assert store.top_up_studies() == []  # five proposed: the search is done
    for _, _, _, config in trials(store):
        lr = __import__("json").loads(config)["lr"]
        assert 1e-4 <= lr <= 1e-1
    (progress,) = store.studies()
    assert progress | {"best": round(progress["best"], 1)} == {
        "name": "s1", "search": "tpe", "prune": "none", "objective": "test_acc", "trials": 5, "proposed": 5,
        "finished": 5, "pruned": 0, "queued": 0, "running": 0, "best": 70.0, "best_run": 1, "front": None,
    }  # fmt: skip


def test_a_grid_search_proposes_each_cell_once():
    store = RunStore()
    _, ids = start(store, StudySettings(search="grid", trials=6, parallel=6), lr="1e-3,1e-2", batch_size="32,64,128")
    configs = {(c["lr"], c["batch_size"]) for c in store.configs(ids).values()}
    assert configs == {(lr, bs) for lr in (1e-3, 1e-2) for bs in (32, 64, 128)}
    with pytest.raises(ConfigError, match="the grid has 6 points"):
        start(store, StudySettings(search="grid", trials=7), name="more", lr="1e-3,1e-2", batch_size="32,64,128")
    with pytest.raises(ConfigError, match="takes lists of values, not an interval"):
        start(store, StudySettings(search="grid"), name="interval", lr="1e-4:1e-1")


def test_a_grid_search_proposed_one_trial_at_a_time_walks_every_cell_once():
    store = RunStore()
    start(store, StudySettings(search="grid", trials=6, parallel=1), lr="1e-3,1e-2", batch_size="32,64,128")
    while (claim := store.claim_next("w")) is not None:
        end(store, claim.run_id, per_epoch=[50.0])
    configs = [(c["lr"], c["batch_size"]) for c in store.configs([t[0] for t in trials(store)]).values()]
    assert sorted(configs) == sorted((lr, bs) for lr in (1e-3, 1e-2) for bs in (32, 64, 128))


def test_a_search_name_is_never_reused_and_a_bad_value_is_refused_before_anything_is_stored():
    store = RunStore()
    start(store, StudySettings(trials=2), name="mine", lr="1e-3,1e-2")
    with pytest.raises(ConfigError, match="already names runs"):
        start(store, StudySettings(trials=2), name="mine", lr="1e-3,1e-2")
    with pytest.raises(ConfigError, match="batch_size"):
        start(store, StudySettings(trials=2), name="bad", batch_size="32,-1")
    assert store.db.execute("SELECT count(*) FROM studies").fetchone()[0] == 1
    with pytest.raises(ConfigError, match="search"):
        StudySettings(search="bayes").checked()


def test_two_stores_claiming_at_once_propose_each_trial_once(tmp_path):
    path = tmp_path / "runs.db"
    first, second = RunStore(path), RunStore(path)
    start(first, StudySettings(search="random", trials=6, parallel=2), lr="1e-4:1e-1")
    taken = []
    for _ in range(3):
        for store in (first, second):
            claim = store.claim_next("w")
            if claim is not None:
                taken.append(claim.run_id)
                end(store, claim.run_id, per_epoch=[50.0])
    numbers = [t[1] for t in trials(first)]
    assert numbers == list(range(6)) and sorted(taken) == [t[0] for t in trials(first)]


def judge(store, run_id, values):
    seen = dict(enumerate(values[:-1], 1))
    return store.judge_trial(SimpleNamespace(run_id=run_id, epoch=len(values), test_acc=values[-1]), seen)


def proposals(store):
    """Each trial's number and its searched point, in proposal order."""
    return [(number, json.loads(config)["lr"]) for _, number, _, config in trials(store)]


def test_a_proposal_the_store_refuses_proposes_nothing_and_the_next_proposes_what_it_would_have(tmp_path):
    """A write lock held past the store's patience, or a full disk (a write failing at the SQLite
    layer): the claim that would propose raises, nothing of the proposal is kept, and once the
    store takes writes the search proposes the very trial it would have, once."""
    settings = StudySettings(search="tpe", trials=4, parallel=1)
    twin = RunStore()  # the same search where nothing goes wrong
    start(twin, settings, lr="1e-4:1e-1")
    store = RunStore(tmp_path / "runs.db", busy_timeout_s=0.2)
    start(store, settings, lr="1e-4:1e-1")
    for each in (twin, store):
        assert each.claim_next("w").run_id == 1
        end(each, 1, per_epoch=[50.0, 60.0, 70.0])

    locker = sqlite3.connect(tmp_path / "runs.db", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store.claim_next("w")
    locker.execute("ROLLBACK")
    assert proposals(store) == proposals(twin)[:1]

    def disk_full(*args):
        raise sqlite3.OperationalError("database or disk is full")

    real_insert, store._insert = store._insert, disk_full  # the trial's row cannot be written
    with pytest.raises(sqlite3.OperationalError, match="full"):
        store.claim_next("w")
    assert proposals(store) == proposals(twin)[:1]  # nothing half-proposed
    store._insert = real_insert

    assert store.claim_next("w").run_id == twin.claim_next("w").run_id == 2
    assert proposals(store) == proposals(twin) and [n for n, _ in proposals(store)] == [0, 1]


def test_the_median_pruner_stops_a_trial_below_the_median_of_finished_trials_at_that_epoch():
    store = RunStore()
    start(store, StudySettings(search="random", trials=8, parallel=8, prune="median"), lr="1e-4:1e-1")
    # Four finished trials are fewer than the pruner's five startup trials: nothing is pruned yet.
    for run_id, acc in zip((1, 2, 3, 4), (80.0, 82.0, 84.0, 86.0)):
        store.claim(run_id, "w")
        assert judge(store, run_id, [acc])
        end(store, run_id, per_epoch=[acc, acc + 1, acc + 2])
    store.claim(5, "w")
    assert judge(store, 5, [10.0])  # still only four finished
    end(store, 5, per_epoch=[88.0, 89.0, 90.0])
    # By hand: the median of 80, 82, 84, 86, 88 at epoch 1 is 84; at epoch 2 of 81..89 it is 85.
    for run_id, values, goes_on in ((6, [83.9], False), (7, [84.0], True), (8, [84.5, 84.9], False)):
        store.claim(run_id, "w")
        assert judge(store, run_id, values) is goes_on


def asha_by_hand(recorded: list[float], value: float, reduction_factor: int = 4) -> bool:
    """Successive halving at a rung: a trial goes on when it is in the top max(1, n // rf) of the
    n values recorded at the rung, its own included."""
    n = len(recorded) + 1
    keep = max(1, n // reduction_factor)
    return value >= sorted([*recorded, value], reverse=True)[keep - 1]


def test_asha_stops_a_trial_outside_the_top_quarter_at_its_rung_as_computed_by_hand():
    store = RunStore()
    values = [50.0, 60.0, 55.0, 70.0, 65.0, 72.0, 40.0, 71.0, 69.0, 75.0, 74.0, 30.0]
    start(store, StudySettings(search="random", trials=len(values), parallel=len(values), prune="asha"), lr="1e-4:1")
    recorded: list[float] = []
    for run_id, acc in enumerate(values, 1):
        store.claim(run_id, "w")
        assert judge(store, run_id, [acc]) is asha_by_hand(recorded, acc), (run_id, acc, recorded)
        recorded.append(acc)
        attrs = store.db.execute("SELECT trial_attrs FROM runs WHERE id = ?", [run_id]).fetchone()[0]
        assert '"completed_rung_0": ' + str(acc) in attrs  # kept with the run: the next rebuild sees it
    assert [asha_by_hand(values[:i], v) for i, v in enumerate(values)] == [
        True, True, False, True, False, True, False, True, False, True, True, False,
    ]  # fmt: skip


def test_a_trial_of_a_search_without_a_pruner_or_a_plain_run_always_goes_on():
    store = RunStore()
    start(store, StudySettings(search="random", trials=2, parallel=2), lr="1e-4:1e-1")
    plain = store.enqueue({"model": "seed-cnn", "dataset": "synthetic", "epochs": 3})
    assert not store.pruned_by_search(1) and not store.pruned_by_search(plain)
    assert judge(store, 1, [1.0]) and judge(store, plain, [1.0])


def test_best_so_far_follows_the_finished_trials_in_proposal_order():
    store = RunStore()
    start(store, StudySettings(search="random", trials=3, parallel=3), lr="1e-4:1e-1")
    for run_id, acc in ((1, 60.0), (2, 55.0), (3, 65.0)):
        store.claim(run_id, "w")
        end(store, run_id, per_epoch=[acc])
    assert best_so_far(store.db, "s1") == [(0, 60.0), (1, 60.0), (2, 65.0)]
    assert not math.isnan(store.studies()[0]["best"])


@pytest.mark.parametrize("search", ["nsga2", "tpe"])
def test_a_search_of_two_objectives_proposes_each_trial_once_and_its_front_is_optuna_s(tmp_path, search):
    import optuna

    from cifar_tui.store.pareto import pareto_front
    from cifar_tui.store.study import export_study, progress

    store = RunStore(tmp_path / "runs.db")
    settings = StudySettings(search=search, trials=10, parallel=2, objective="test_acc,seconds")
    start(store, settings, lr="1e-4:1e-1", batch_size="32,64,128")
    seen = []
    while (claim := store.claim_next("w")) is not None:
        config = store.run(claim.run_id)["config"]
        accuracy, seconds = (
            60 + 10 * math.log10(config["lr"] / 1e-4) / 3,
            50 - config["batch_size"] / 4 + config["lr"] * 100,
        )
        store.db.execute("UPDATE runs SET seconds = ? WHERE id = ?", [seconds, claim.run_id])
        end(store, claim.run_id, final=accuracy, per_epoch=[accuracy])
        seen.append((claim.run_id, accuracy, seconds))
    assert [t for (t,) in store.db.execute("SELECT trial FROM runs ORDER BY trial")] == list(range(10))
    front = sorted(seen[i][0] for i in pareto_front([(a, s) for _, a, s in seen], ["maximize", "minimize"]))
    [row] = progress(store.db)
    assert row["front"] == len(front) and row["best"] is None and row["finished"] == 10
    export_study(store.db, "s1", f"sqlite:///{tmp_path / 'o.db'}")
    study = optuna.load_study(study_name="s1", storage=f"sqlite:///{tmp_path / 'o.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert sorted(t.user_attrs["run_id"] for t in study.best_trials) == front
    store.close()


@pytest.mark.parametrize(
    ("objective", "prune", "words"),
    [
        ("test_acc,seconds", "median", "prune: Optuna cannot prune a search of several objectives"),
        ("test_acc,lr", "none", "'lr' is no result column"),
        ("test_acc,test_acc", "none", "names an objective twice"),
        ("seconds", "none", "is not one of"),  # one objective: what the pruner can read each epoch
    ],
)
def test_objectives_a_search_cannot_take_are_refused(objective, prune, words):
    with pytest.raises(ConfigError, match=words):
        StudySettings(objective=objective, prune=prune).checked()


def test_a_search_s_group_rows_count_its_pruned_trials_and_a_sweep_s_have_no_such_column(tmp_path):
    from cifar_tui.store.export import table

    store = RunStore(tmp_path / "runs.db")
    start(store, StudySettings(search="grid", trials=4, parallel=4, prune="median"), lr="1e-3,1e-2", batch_size="32,64")
    ids = [store.claim_next("w").run_id for _ in range(4)]
    for run_id, status in zip(ids, ("finished", "pruned", "pruned", "finished")):
        end(store, run_id, status, per_epoch=[50.0])
    columns, rows = table(store, "sweep=s1", "id", grouped=True, varying=True)
    assert columns.index("pruned") == columns.index("runs") + 1
    assert sorted((r["n"], r["runs"], r["pruned"]) for r in rows) == [(0, 1, 1), (0, 1, 1), (1, 1, 0), (1, 1, 0)]
    store.enqueue(json.loads(json.dumps(store.run(ids[0])["config"])) | {"seed": 9})
    columns, _ = table(store, "status=queued", "id", grouped=True, varying=True)  # a plain run's group
    assert "pruned" not in columns
    store.close()


def test_a_search_may_weigh_accuracy_against_parameters_or_a_held_out_set(tmp_path):
    from cifar_tui.store.pareto import front_of_runs
    from cifar_tui.store.study import progress

    store = RunStore(tmp_path / "runs.db")
    start(
        store,
        StudySettings(search="nsga2", trials=6, parallel=6, objective="test_acc,params,cifar10.1_acc"),
        lr="1e-4:1e-1",
    )
    for number in range(6):
        claimed = store.claim_next("w").run_id
        store.db.execute(
            "UPDATE runs SET params = ?, evals = json_object('cifar10.1', json_object('acc', ?)) WHERE id = ?",
            [1000 * (6 - number), 40.0 + number % 3, claimed],
        )
        end(store, claimed, final=50.0 + number, per_epoch=[50.0 + number])
    [row] = progress(store.db)
    ids, drawn = front_of_runs(store, "", ["test_acc", "params", "cifar10.1_acc"])
    assert drawn == 6 and row["front"] == len(ids) == 1  # the last: most accurate, fewest parameters
    store.close()
