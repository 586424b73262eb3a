"""`cifar-tui export --optuna`: a search as an Optuna study, read back with Optuna's own
`load_study` (what optuna-dashboard reads): its trials' states, params, objectives and
intermediate values are the store's."""

import json

import optuna
import pytest
from optuna.trial import TrialState

from cifar_tui.store.runs import RunStore
from cifar_tui.store.study import StudySettings
from tests.store.test_study import end, space
from tests.tui.test_cli import cifar_tui


@pytest.fixture
def searched(tmp_path, monkeypatch):
    """A home with search s1 of four trials: one finished, one pruned, one running, one queued."""
    monkeypatch.setenv("CIFAR_TUI_HOME", str(tmp_path / "home"))
    store = RunStore(tmp_path / "home" / "runs.db")
    store.enqueue_study(space(lr="1e-4:1e-1", batch_size="64,128"), None, StudySettings(trials=4, parallel=4))
    for run_id in (1, 2, 3):
        assert store.claim_next("w").run_id == run_id
    end(store, 1, per_epoch=[50.0, 61.5, 70.25])
    end(store, 2, "pruned", per_epoch=[30.0])
    store.close()
    return tmp_path


def store_trials(home):
    store = RunStore(home / "runs.db")
    rows = store.db.execute("SELECT id, trial, status, config, test_acc FROM runs ORDER BY trial").fetchall()
    epochs = {
        run_id: dict(store.db.execute("SELECT epoch, test_acc FROM epochs WHERE run_id = ?", [run_id]).fetchall())
        for run_id, *_ in rows
    }
    store.close()
    return rows, epochs


@pytest.mark.parametrize("target", ["searches.db", "searches.log", "sqlite:///{tmp}/url.db"])
def test_a_search_exported_to_optuna_reads_back_as_the_store_has_it(searched, capsys, target):
    given = target.format(tmp=searched) if "://" in target else str(searched / target)
    status, _, err = cifar_tui(capsys, "export", "--optuna", given, "s1")
    assert status == 0 and err.strip() == f"wrote search s1 (4 trials) to {given} as an Optuna study"
    if given.endswith(".log"):
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(given))
    else:
        storage = given if "://" in given else f"sqlite:///{given}"
    study = optuna.load_study(study_name="s1", storage=storage)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.user_attrs["cifar-tui:search"] == "tpe" and study.user_attrs["cifar-tui:objective"] == "test_acc"
    rows, epochs = store_trials(searched / "home")
    states = {"finished": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "running": TrialState.RUNNING}
    assert len(study.trials) == len(rows) == 4
    for trial, (run_id, number, status, config, test_acc) in zip(study.trials, rows):
        config = json.loads(config)
        assert trial.number == number and trial.user_attrs["run_id"] == run_id
        assert trial.state == states.get(status, TrialState.WAITING)
        assert trial.params == {"lr": config["lr"], "batch_size": config["batch_size"]}
        assert trial.value == (test_acc if status == "finished" else None)
        assert trial.intermediate_values == epochs[run_id]
    assert study.best_trial.value == 70.25 and study.best_trial.user_attrs["run_id"] == 1


def test_exporting_again_replaces_the_study_and_the_store_is_never_the_target(searched, capsys):
    target = searched / "searches.db"
    for _ in range(2):
        assert cifar_tui(capsys, "export", "--optuna", str(target), "s1")[0] == 0
    assert len(optuna.load_study(study_name="s1", storage=f"sqlite:///{target}").trials) == 4
    home_store = searched / "home" / "runs.db"
    for storage in (str(home_store), f"sqlite:///{home_store}"):
        status, _, err = cifar_tui(capsys, "export", "--optuna", storage, "s1")
        assert status == 2 and "is this home's run store" in err and len(err.strip().splitlines()) == 1
    status, _, err = cifar_tui(capsys, "export", "--optuna", str(target), "s9")
    assert status == 2 and "no search named 's9' (searches: s1)" in err
    status, _, err = cifar_tui(capsys, "export", "--optuna", str(target), "s1", "s2")
    assert status == 2 and "--optuna takes one search's name" in err


def test_a_storage_that_refuses_the_study_says_so_in_one_line(searched, capsys):
    status, _, err = cifar_tui(capsys, "export", "--optuna", "nosuchdb://somewhere", "s1")
    assert status == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("cifar-tui: error: optuna: cannot write the study to nosuchdb://somewhere: ")
    assert "unexpected" not in err
