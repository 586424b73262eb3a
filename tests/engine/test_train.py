import math

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.engine.events import EpochEnd, Losses, RunCancelled, RunFinished, RunStarted
from cifar_tui.engine.train import train


def run_events(tmp_path, **overrides):
    events = []
    config = make_config("seed-cnn", **{"dataset": "synthetic", "device": "cpu", "epochs": 1, **overrides})
    train(1, config, events.append, data_dir=tmp_path)
    return events


def test_event_sequence_and_one_loss_per_step(tmp_path):
    events = run_events(tmp_path, epochs=2, limit_batches=7)
    kinds = [type(e) for e in events if not isinstance(e, Losses)]
    assert kinds == [RunStarted, EpochEnd, EpochEnd, RunFinished]
    started = events[0]
    assert (started.steps_per_epoch, started.total_steps, started.params) == (7, 14, 43_626)
    chunks = [e for e in events if isinstance(e, Losses)]
    steps = [c.first_step + i for c in chunks for i in range(len(c.losses))]
    assert steps == list(range(14))
    assert all(c.epoch == (1 if c.first_step < 7 else 2) for c in chunks)
    assert all(math.isfinite(loss) for c in chunks for loss in c.losses)
    end = [e for e in events if isinstance(e, EpochEnd)][-1]
    assert end.step == 14 and len(end.class_acc) == 10 and end.images_per_s > 0
    # Losses reach subscribers before the epoch that contains them ends.
    assert events.index(chunks[-1]) < events.index(end)


@pytest.mark.slow
def test_training_learns_the_synthetic_data(tmp_path):
    events = run_events(tmp_path, epochs=1)
    end = next(e for e in events if isinstance(e, EpochEnd))
    assert end.test_acc > 50
    assert sum(len(e.losses) for e in events if isinstance(e, Losses)) == 782  # ceil(50000 / 64)


def test_same_seed_same_losses(tmp_path):
    def losses(seed):
        return [
            loss for e in run_events(tmp_path, seed=seed, limit_batches=5) if isinstance(e, Losses) for loss in e.losses
        ]

    assert losses(3) == losses(3)
    assert losses(3) != losses(4)


def test_should_stop_cancels_at_the_next_batch(tmp_path):
    events = []
    config = make_config("seed-cnn", dataset="synthetic", device="cpu", epochs=3)
    train(
        1, config, events.append, should_stop=lambda: sum(isinstance(e, Losses) for e in events) > 0, data_dir=tmp_path
    )
    assert isinstance(events[-1], RunCancelled)
    assert not any(isinstance(e, (EpochEnd, RunFinished)) for e in events)
    recorded = sum(len(e.losses) for e in events if isinstance(e, Losses))
    assert events[-1].step == recorded


@pytest.mark.parametrize("optimizer, crop", [("sgd", True), ("adam", False)])
def test_options_train(tmp_path, optimizer, crop):
    events = run_events(tmp_path, optimizer=optimizer, crop=crop, lr=0.01, limit_batches=3, nesterov=optimizer == "sgd")
    assert isinstance(events[-1], RunFinished)


@pytest.mark.slow
def test_a_pause_is_not_counted_as_training_time(tmp_path):
    import time

    def held_once(calls=[]):  # noqa: B006 (a counter that lives with the function)
        calls.append(None)
        if len(calls) == 3:
            time.sleep(1.0)  # what RunControl.should_stop does while the run is paused
        return False

    config = make_config("seed-cnn", dataset="synthetic", device="cpu", epochs=1, limit_batches=5)
    events, at = [], {}

    def timed(event):
        at.setdefault(type(event).__name__, time.perf_counter())
        events.append(event)

    train(1, config, timed, should_stop=held_once, data_dir=tmp_path)
    [end] = [e for e in events if isinstance(e, EpochEnd)]
    # However slow the machine: from the start to the epoch's end it trained, was held a second
    # and evaluated; the second is left out of the epoch's time (and so of its speed).
    assert end.seconds < at["EpochEnd"] - at["RunStarted"] - 1.0
    assert end.images_per_s == pytest.approx(5 * 64 / end.seconds)


def test_each_epoch_records_its_confusion_matrix_lr_and_some_wrong_images(tmp_path):
    import base64

    events = run_events(tmp_path, epochs=2, limit_batches=3, limit_eval_batches=0, lr_schedule="cosine")
    first, end = [e for e in events if isinstance(e, EpochEnd)]
    assert first.lr == pytest.approx(1e-3)  # the warm-up epoch ends at the base rate
    assert len(end.confusion) == 100 and sum(end.confusion) == 10_000  # every test image, once
    rows = [end.confusion[i * 10 : (i + 1) * 10] for i in range(10)]
    assert [round(100 * rows[i][i] / sum(rows[i]), 6) for i in range(10)] == [round(a, 6) for a in end.class_acc]
    assert end.test_acc == pytest.approx(100 * sum(rows[i][i] for i in range(10)) / 10_000)
    pairs = list(zip(end.wrong_labels[::2], end.wrong_labels[1::2]))
    assert len(pairs) == 6 and all(true != predicted for true, predicted in pairs)
    assert len(base64.b64decode(end.wrong_images)) == 6 * 16 * 16 * 3
    assert 0 < end.lr < 1e-3  # then cosine decays it


@pytest.mark.parametrize("model", ["seed-cnn", "resnet18-cifar"])
def test_a_hundred_class_dataset_gives_every_model_a_hundred_outputs(tmp_path, model):
    from tests.engine.test_data import write_cifar100_folder

    write_cifar100_folder(tmp_path, per_file=(40, 20))
    events = run_events(tmp_path, model=model, dataset="cifar100", batch_size=16, limit_batches=2)
    started, end = events[0], [e for e in events if isinstance(e, EpochEnd)][-1]
    assert started.classes == tuple(f"fine{i}" for i in range(100))
    assert (
        len(end.class_acc) == 100 and len(end.confusion) == 100 * 100 and sum(end.confusion) == (end.eval_images or 20)
    )
    assert max(end.wrong_labels) < 100 and isinstance(events[-1], RunFinished)


def losses_and_mode(tmp_path, **overrides):
    """A short run's losses, and whether deterministic algorithms were on while it trained."""
    import torch

    events, modes = [], []

    def emit(event):
        events.append(event)
        if isinstance(event, Losses):
            modes.append(torch.are_deterministic_algorithms_enabled())

    settings = {"dataset": "synthetic", "device": "cpu", "epochs": 1, "limit_batches": 6, **overrides}
    config = make_config("seed-cnn", **settings)
    train(1, config, emit, data_dir=tmp_path)
    return [loss for e in events if isinstance(e, Losses) for loss in e.losses], set(modes)


def test_deterministic_gives_the_same_losses_bit_for_bit_and_is_undone_by_the_next_run(tmp_path):
    first, mode = losses_and_mode(tmp_path, deterministic=True, dropout=0.5)
    again, _ = losses_and_mode(tmp_path, deterministic=True, dropout=0.5)
    assert mode == {True} and first == again  # == on floats: bit for bit
    _, mode = losses_and_mode(tmp_path, dropout=0.5)
    assert mode == {False}  # a training process trains job after job: the next run is not held to it


@pytest.mark.gpu
def test_deterministic_on_cuda_gives_the_same_losses_bit_for_bit(tmp_path):
    first, mode = losses_and_mode(tmp_path, deterministic=True, device="cuda", cudnn_benchmark=True)
    again, _ = losses_and_mode(tmp_path, deterministic=True, device="cuda", cudnn_benchmark=True)
    assert mode == {True} and first == again


def test_a_warm_up_then_multistep_is_what_each_epoch_records(tmp_path):
    events = run_events(
        tmp_path, epochs=3, limit_batches=4, limit_eval_batches=1, lr_schedule="multistep", lr_milestones="2",
        lr_gamma=0.5, warmup_epochs=0.5,
    )  # fmt: skip
    losses = [e for e in events if isinstance(e, Losses)]
    assert sum(len(e.losses) for e in losses) == 12
    # Steps 0-1 warm up to 1e-3; the rate halves at epoch 2's end (step 8): what each epoch's last step ran at.
    assert [e.lr for e in events if isinstance(e, EpochEnd)] == pytest.approx([1e-3, 1e-3, 0.5e-3])
