import re

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.store.run_filter import FilterError
from cifar_tui.store.runs import RunStore


@pytest.fixture
def store():
    store = RunStore(None)
    _, ids = store.enqueue_sweep(
        [
            make_config(dataset="synthetic", lr=lr, seed=seed, name=f"lr {lr}").to_dict()
            for lr in (0.1, 0.01)
            for seed in (0, 1)
        ]
    )
    store.enqueue(make_config(model="seed-resnet", dataset="synthetic", nesterov=False, name="100% res_net").to_dict())
    with store.write():
        for run_id, acc in zip(ids, (90.0, 91.0, 80.0, 81.0)):
            store.db.execute("UPDATE runs SET status = 'finished', test_acc = ? WHERE id = ?", [acc, run_id])
    store.tag(1, ["baseline"])
    store.set_note(5, "try wider")
    return store


@pytest.mark.parametrize(
    "text, ids",
    [
        ("", [5, 4, 3, 2, 1]),
        ("lr<0.05", [5, 4, 3]),
        ("lr>=0.1 seed=1", [2]),
        ("status=finished test_acc>85", [2, 1]),
        ("model=SEED-RESNET", [5]),  # text compares without case
        ("model!=seed-resnet", [4, 3, 2, 1]),
        ("sweep=s1", [4, 3, 2, 1]),
        ("tag:baseline", [1]),
        ("wider", [5]),  # a word: name, model, status, dataset, sweep, tags or note
        ("100%", [5]),  # LIKE's wildcards are taken literally
        ("res_net", [5]),
        ("hflip=true nesterov=false", [5, 4, 3, 2, 1]),
        ("id=1,3", [3, 1]),
        ("test_acc!=90", [5, 4, 3, 2]),  # a run without a result is not equal to 90
    ],
)
def test_filter(store, text, ids):
    assert [r["id"] for r in store.find(text)] == ids
    assert store.count(text) == len(ids)


@pytest.mark.parametrize(
    "text, message",
    [
        ("learning_rate<1", "filter: unknown field 'learning_rate'; known: "),
        ("lr<abc", "filter: lr is a number (got 'abc')"),
        ("model<x", "filter: model is text; compare it with = or !="),
        ("hflip=maybe", "filter: hflip is true or false"),
    ],
)
def test_a_filter_it_cannot_read_says_why(store, text, message):
    with pytest.raises(FilterError, match=re.escape(message)):
        store.find(text)


def test_sort_by_result_or_config_field_puts_blanks_last(store):
    assert [r["id"] for r in store.find(sort="-test_acc")] == [2, 1, 4, 3, 5]
    assert [r["id"] for r in store.find(sort="test_acc")] == [3, 4, 1, 2, 5]
    assert [r["id"] for r in store.find(sort="lr", limit=2, offset=1)] == [4, 3]  # ties: newest first


def test_varying_fields(store):
    assert store.varying_fields() == ["model", "lr", "seed", "name"]
    assert store.varying_fields("sweep=s1") == ["lr", "seed", "name"]
