"""The app's engine for the fast tier: the real queue claims, recorder, control watcher and store
(an EngineHost, as EngineThread is), with the training replaced by a replay of the events a real
run of the synthetic data sent, recorded once per session. A run replays the epochs and batches
its config asks for, one batch's loss at a time, asking its control between batches as the
training loop does: cancel, pause, quit and the queue behave as with the real engine, in
milliseconds, with no torch work after the recording."""

from __future__ import annotations

import functools
import time
from dataclasses import replace

from cifar_tui.engine.config import make_config
from cifar_tui.engine.events import EpochEnd, Losses, RunCancelled, RunFailed, RunFinished, RunStarted
from cifar_tui.tui.worker.local_worker import LocalWorker

STEP_S = 0.02  # a replayed batch's time: a 50-epoch run (400 steps, 8 s) outlasts a quit's two questions


@functools.cache
def recording() -> tuple:
    """What a real run sends: 1 epoch of 8 batches of seed-cnn on the synthetic data, on the CPU."""
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from cifar_tui.engine.train import train

    events = []
    with TemporaryDirectory() as data:
        config = make_config(dataset="synthetic", device="cpu", epochs=1, limit_batches=8, limit_eval_batches=2)
        train(1, config, events.append, data_dir=Path(data))
    return tuple(events)


def replay(job, emit, control) -> None:
    from cifar_tui.engine.device import resolve_device
    from cifar_tui.engine.worker import describe_error

    config, run_id = job.config, job.run_id
    try:
        resolve_device(config.device)  # a device the machine lacks fails the run before it starts
    except Exception as error:
        emit(RunFailed(run_id, describe_error(error, config)))
        return
    events = recording()
    (started,) = [e for e in events if isinstance(e, RunStarted)]
    losses = [loss for e in events if isinstance(e, Losses) for loss in e.losses]
    (end,) = [e for e in events if isinstance(e, EpochEnd)]
    (finished,) = [e for e in events if isinstance(e, RunFinished)]
    per_epoch = config.limit_batches or len(losses)
    total = per_epoch * config.epochs
    emit(replace(started, run_id=run_id, config_json=config.to_json(), steps_per_epoch=per_epoch, total_steps=total))
    step = 0
    for epoch in range(1, config.epochs + 1):
        for _ in range(per_epoch):
            if control.should_stop():  # a paused run holds in here, as in the training loop
                emit(RunCancelled(run_id, step))
                return
            emit(Losses(run_id, epoch, step, (losses[step % len(losses)],)))
            step += 1
            time.sleep(STEP_S)
        emit(replace(end, run_id=run_id, epoch=epoch, step=step))
    emit(replace(finished, run_id=run_id))


class ScriptedEngine(LocalWorker):
    """An EngineHost (tui/worker/engine_host.py) whose runs are replays."""

    def __init__(self, home):
        super().__init__(home, isolated=False, runner=replay)

    def keep_alive(self) -> str | None:
        return None
