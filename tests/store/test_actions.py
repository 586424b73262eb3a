"""The actions both front ends call (store/actions.py): each checks, acts and says what became of it."""

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.store import actions
from cifar_tui.store.actions import ActionError, ExportRequest
from cifar_tui.store.runs import RunStore


@pytest.fixture
def store(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    yield store
    store.close()


def queued(store, **config):
    return store.enqueue(make_config("seed-cnn", dataset="synthetic", **config).to_dict())


def test_cancel_takes_a_queued_run_asks_a_running_ones_worker_and_refuses_the_rest(store):
    first, second = queued(store), queued(store)
    store.claim(second, worker="w:1")
    assert actions.cancel_run(store, first) == "cancelled" and store.run(first)["status"] == "cancelled"
    assert actions.cancel_run(store, second) == "asked" and store.run(second)["status"] == "running"
    with pytest.raises(ActionError, match="run 1 is cancelled; only queued or running runs cancel"):
        actions.cancel_run(store, first)
    with pytest.raises(ActionError, match="no run with id 9"):
        actions.cancel_run(store, 9)


def test_delete_keeps_a_running_run_and_takes_the_others_checkpoints(store, tmp_path):
    done, running = queued(store), queued(store)
    store.claim(running, worker="w:1")
    for run_id in (done, running):
        (tmp_path / "checkpoints" / str(run_id)).mkdir(parents=True)
    assert actions.delete_runs(store, [done, running], tmp_path / "checkpoints") == [done]
    assert store.run(done) is None and not (tmp_path / "checkpoints" / str(done)).exists()
    assert store.run(running) is not None and (tmp_path / "checkpoints" / str(running)).exists()


def test_a_started_run_is_not_removed_from_the_queue(store, tmp_path):
    run_id = queued(store)
    store.claim(run_id, worker="w:1")
    with pytest.raises(ActionError, match="only queued runs can be removed"):
        actions.remove_queued(store, run_id, tmp_path)
    assert store.run(run_id)["status"] == "running"


def test_tags_notes_and_names_are_checked_before_anything_is_written(store):
    run_id = queued(store, name="before")
    with pytest.raises(ActionError, match="tag: "):
        actions.tag_runs(store, [run_id], ["+a,b"])
    with pytest.raises(ActionError, match="note: a note must be printable text"):
        actions.set_note(store, run_id, "bell\x07")
    with pytest.raises(ActionError, match="name"):
        actions.rename_run(store, run_id, "esc\x1b")
    row = store.run(run_id)
    assert (row["tags"], row["note"], row["name"]) == ([], "", "before")
    assert actions.tag_runs(store, [run_id], ["+a", "b"]) == {run_id: ["a", "b"]}
    assert actions.tag_summary(["+a", "-b"], 2) == "+a -b on 2 runs"


@pytest.mark.parametrize("kind", ["history", "losses"])
def test_the_tables_for_tools_refuse_the_formats_for_people(store, kind):
    for fmt in ("md", "latex"):
        with pytest.raises(ActionError, match=f"format: the {kind} is a table for tools; choose csv, json"):
            actions.export_text(store, ExportRequest(kind, fmt))
    assert actions.export_text(store, ExportRequest(kind, "csv"))[1] == 0


def test_a_resume_its_checkpoint_refuses_leaves_the_run_as_it_was(store, tmp_path):
    """A run whose checkpoint is another config's (or unreadable) is refused before anything claims
    it: it keeps its status and its trained epochs; its own checkpoint, or none, queues it."""
    import torch

    from cifar_tui.engine.checkpoint import checkpoint_path

    run_id, checkpoints = queued(store), tmp_path / "checkpoints"
    with store.write():
        store.db.execute("UPDATE runs SET status = 'interrupted', epochs_done = 1 WHERE id = ?", [run_id])
    path = checkpoint_path(checkpoints, run_id)
    path.parent.mkdir(parents=True)

    def checkpoint(config):
        fields = dict(epoch=1, step=3, model={}, optimizer={}, torch_rng=torch.get_rng_state())
        torch.save(dict(fields, run_id=run_id, config=config.to_json(), generator=torch.get_rng_state()), path)

    checkpoint(make_config("seed-resnet", dataset="synthetic"))
    with pytest.raises(ActionError, match=f"run {run_id} stays interrupted: .*another config than run {run_id}'s"):
        actions.requeue_run(store, run_id, checkpoints)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ActionError, match=f"run {run_id} stays interrupted: .*not a readable checkpoint"):
        actions.resumable_run(store, run_id, checkpoints)
    assert (store.run(run_id)["status"], store.run(run_id)["epochs_done"]) == ("interrupted", 1)
    checkpoint(make_config("seed-cnn", dataset="synthetic", device="cuda", name="moved"))  # its own config
    assert (
        actions.requeue_run(store, run_id, checkpoints) == f"run {run_id} queued to continue from its last checkpoint"
    )
    assert store.run(run_id)["status"] == "queued"
    with pytest.raises(ActionError, match=f"run {run_id} is queued; only interrupted, failed or cancelled runs"):
        actions.requeue_run(store, run_id, checkpoints)
