"""store/importance.py against Optuna's own get_param_importances on the same trials: a sweep
read as the test states Optuna would read it (log, integer, categorical), a search read back
from the Optuna study `export --optuna` writes; the field that drives the objective ranks
first; too few runs and a column that is no result are one line each."""

import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator, get_param_importances
from optuna.trial import TrialState, create_trial

from cifar_tui.engine.config import make_config
from cifar_tui.store.importance import ImportanceError, importance
from cifar_tui.store.runs import RunStore
from cifar_tui.store.study import StudySettings, export_study
from tests.store.test_study import end, space

pytest.importorskip("sklearn")  # Optuna's fANOVA fits its forests


def objective(lr, batch_size, optimizer, seed):
    """Test accuracy that the learning rate sets (a peak at 3e-3), the optimizer shifts a little,
    the batch size hardly, the seed by noise."""
    return (
        80 - 6 * math.log10(lr / 3e-3) ** 2 + (1.5 if optimizer == "sgd" else 0) + batch_size / 1e3 + (seed % 3) * 0.2
    )


@pytest.fixture
def sweep(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    runs = []
    for lr in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2):
        for batch_size in (64, 128):
            for optimizer in ("adam", "sgd"):
                for seed in (0, 1):
                    config = make_config(
                        None, lr=lr, batch_size=batch_size, optimizer=optimizer, seed=seed, dataset="synthetic"
                    )
                    run_id = store.enqueue(config.to_dict())
                    store.claim(run_id, worker="w")
                    end(store, run_id, final=objective(lr, batch_size, optimizer, seed), per_epoch=[50.0])
                    runs.append((lr, batch_size, optimizer, seed))
    queued = store.enqueue(make_config(None, lr=0.5, dataset="synthetic").to_dict())  # not finished: left out
    yield store, runs, queued
    store.close()


def by_hand(runs, evaluator):
    """The same trials as the test reads them: lr on a log scale (it spans 100x), batch size and
    seed integers, the optimizer categorical."""
    distributions = {
        "optimizer": CategoricalDistribution(['"adam"', '"sgd"']),
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
        "batch_size": IntDistribution(64, 128),
        "seed": IntDistribution(0, 1),
    }
    study = optuna.create_study(direction="maximize")
    for lr, batch_size, optimizer, seed in runs:
        params = {"optimizer": f'"{optimizer}"', "lr": lr, "batch_size": batch_size, "seed": seed}
        value = objective(lr, batch_size, optimizer, seed)
        study.add_trial(
            create_trial(state=TrialState.COMPLETE, value=value, params=params, distributions=distributions)
        )
    return get_param_importances(study, evaluator=evaluator, normalize=True)


def test_a_sweep_s_importances_are_optuna_s_on_the_same_trials(sweep):
    store, runs, _ = sweep
    found = importance(store, "", "test_acc", "fanova", seed=7)
    expected = by_hand(runs, FanovaImportanceEvaluator(seed=7))
    assert found.fields == pytest.approx(expected) and list(found.fields) == list(expected)
    assert found.scales == {"optimizer": "categorical", "lr": "log", "batch_size": "integer", "seed": "integer"}
    assert (found.used, found.left_out, found.note) == (len(runs), 1, "")
    assert next(iter(found.fields)) == "lr" and found.fields["lr"] > 0.8  # what drives it ranks first
    ped = importance(store, "", "test_acc", "ped-anova")
    assert ped.fields == pytest.approx(by_hand(runs, PedAnovaImportanceEvaluator()))


def test_a_search_is_read_with_its_own_distributions(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    store.enqueue_study(space(lr="1e-4:1e-1", batch_size="64,128"), None, StudySettings(trials=12, parallel=12))
    for _ in range(12):
        claimed = store.claim_next("w").run_id
        config = store.run(claimed)["config"]
        end(store, claimed, final=objective(config["lr"], config["batch_size"], "adam", 0), per_epoch=[40.0])
    found = importance(store, "sweep=s1", "test_acc", "fanova", seed=1)
    export_study(store.db, "s1", f"sqlite:///{tmp_path / 'optuna.db'}")
    study = optuna.load_study(study_name="s1", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    expected = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=1), normalize=True)
    assert found.fields == pytest.approx(expected)
    assert found.scales == {"lr": "log", "batch_size": "categorical"}
    store.close()


def test_too_few_runs_or_no_result_column_is_one_line(sweep):
    store, _, queued = sweep
    with pytest.raises(ImportanceError, match=r"0 finished runs with a test_acc of 1 the filter keeps; it takes 3"):
        importance(store, f"id={queued}")
    with pytest.raises(ImportanceError, match=r"'lr' is no result column"):
        importance(store, "", "lr")
    few = importance(store, "lr=0.0001,0.01 optimizer=adam batch_size=64")
    assert few.used == 4 and few.note.startswith("only 4 finished runs for 2 fields: a hint")
    for _ in range(3):  # the same config thrice
        run_id = store.enqueue(make_config(None, lr=0.7, dataset="synthetic").to_dict())
        store.claim(run_id, worker="w")
        end(store, run_id, final=50.0, per_epoch=[50.0])
    with pytest.raises(ImportanceError, match="the 3 finished runs share every config field; nothing varies"):
        importance(store, "lr=0.7")


def test_a_cost_column_is_minimised_and_held_out_columns_count(sweep):
    store, runs, _ = sweep
    with store.write():
        store.db.execute("UPDATE runs SET seconds = json_extract(config, '$.batch_size') / 10.0 + id % 2")
        store.db.execute(
            """UPDATE runs SET evals = json_object('cifar10.1', json_object('acc', test_acc - 8, 'gap', 8))"""
        )
    assert next(iter(importance(store, "status=finished", "seconds").fields)) == "batch_size"
    assert next(iter(importance(store, "status=finished", "cifar10.1_acc").fields)) == "lr"
