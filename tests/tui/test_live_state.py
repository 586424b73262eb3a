from cifar_tui.engine.config import make_config
from cifar_tui.engine.events import EpochEnd, Losses, RunCancelled, RunFailed, RunPaused, RunStarted
from cifar_tui.tui.live_state import LiveState


def started(run_id=1, epochs=2, per_epoch=4):
    config = make_config(dataset="synthetic", epochs=epochs)
    return RunStarted(run_id, config.to_json(), "cpu", "2 CPU threads", 10, per_epoch, per_epoch * epochs)


def end(epoch, step):
    return EpochEnd(1, epoch, step, 1.0, 1.0, 50.0, (50.0,) * 10, 1.0, 256.0)


def test_progress_through_a_run():
    state = LiveState()
    state.apply(started())
    state.apply(Losses(1, 1, 0, (2.0, 1.9, 1.8)))
    run = state.run
    assert (run.step, run.epoch, run.epoch_step, run.evaluating) == (3, 1, 3, False)
    state.apply(Losses(1, 1, 3, (1.7,)))
    assert (run.epoch, run.evaluating) == (1, True)  # all steps done, test results not in yet
    state.apply(end(1, 4))
    state.apply(Losses(1, 2, 4, (1.5,)))
    assert (run.step, run.epoch, run.epoch_step, run.evaluating) == (5, 2, 1, False)
    assert run.eta_s == 3 * 64 / 256.0  # three steps left at the last epoch's speed
    assert list(run.losses) == [2.0, 1.899999976158142, 1.7999999523162842, 1.7000000476837158, 1.5]


def test_events_of_another_run_are_ignored_and_endings_recorded():
    state = LiveState()
    state.apply(started())
    version = state.version
    state.apply(Losses(9, 1, 0, (1.0,)))
    assert state.version == version and len(state.run.losses) == 0
    state.apply(RunFailed(1, "CUDA out of memory"))
    assert (state.run.status, state.run.error) == ("failed", "CUDA out of memory")
    state.apply(started(run_id=2))
    state.apply(RunCancelled(2, 0))
    assert (state.run.run_id, state.run.status) == (2, "cancelled")


def test_the_title_shows_a_pause_and_the_memory_the_worker_recorded():
    from dataclasses import replace

    from cifar_tui.tui.views.live_view import title

    state = LiveState()
    state.apply(replace(started(), device="cuda:0", device_name="H100", memory_total=80 << 30))
    state.apply(Losses(1, 1, 0, (2.0,), memory_used=3 << 29))
    assert "· 1.5 of 80 GiB" in title(state.run) and "running" in title(state.run)
    state.apply(replace(end(1, 4), memory_peak=5 << 30))
    state.apply(Losses(1, 2, 4, (1.0,)))  # a chunk without a reading keeps the last one
    state.apply(RunPaused(1, True))
    text = title(state.run)
    assert "· 1.5, peak 5.0 of 80 GiB" in text and "paused" in text and "running" not in text
    state.apply(RunPaused(1, False))
    assert "paused" not in title(state.run)
    cpu = LiveState()
    cpu.apply(started())
    assert "GiB" not in title(cpu.run)


def test_held_out_figures_reach_the_title_when_they_come():
    from cifar_tui.engine.events import Evaluated
    from cifar_tui.tui.views.live_view import title

    state = LiveState()
    state.apply(started())
    assert "held out" not in title(state.run)
    state.apply(Evaluated(1, 2, "cifar10.1", (("", 2000, 80.1, 0.6),), (("acc", 80.1), ("loss", 0.6), ("gap", 5.9))))
    state.apply(Evaluated(2, 2, "cifar10-c", (), (("acc", 1.0), ("loss", 9.0), ("gap", 9.0))))  # another run's
    assert title(state.run).splitlines()[-1] == "[dim]held out:[/] cifar10.1 80.10% (gap +5.90)"
