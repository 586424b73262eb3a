"""Training without the app: `cifar-tui run` with a rich progress bar."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ...engine.config import RunConfig
from ...engine.events import (
    EpochEnd,
    EventSink,
    Losses,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunInterrupted,
    RunLost,
    RunPruned,
    RunStarted,
)
from ...engine.text import printable
from ...engine.worker import Job
from ...store.columns import progress_line
from ...store.runs import RunTaken, worker_id
from .local_worker import LocalWorker, OneJob
from .notify import close_all, notifiers


def on_part(event: EpochEnd) -> str:
    """Where an epoch's test figures cover part of the test set (--limit-eval-batches), say so."""
    return f"  (test figures on {event.eval_images:,} test images)" if event.eval_images else ""


class ProgressView(EventSink):
    """Turns engine events into a rich progress bar and one line per epoch."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[speed]:>9} img/s"),
            TextColumn("loss {task.fields[loss]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = None

    def on_run_started(self, event: RunStarted) -> None:
        self.console.print(f"run {event.run_id} on {event.device} ({event.device_name}), {event.params:,} parameters")
        self.progress.start()
        self.task = self.progress.add_task(f"run {event.run_id}", total=event.total_steps, speed="-", loss="-")

    def on_losses(self, event: Losses) -> None:
        if self.task is not None:
            self.progress.update(
                self.task, completed=event.first_step + len(event.losses), loss=f"{event.losses[-1]:.4f}"
            )

    def on_epoch_end(self, event: EpochEnd) -> None:
        self.progress.update(self.task, speed=f"{event.images_per_s:,.0f}")
        # One line an epoch whatever the width: a log (nohup, tmux) greps it; a terminal wraps it.
        self.progress.console.print(f"epoch {event.epoch}: {progress_line(event)}{on_part(event)}", soft_wrap=True)

    def _stop(self, event: Any) -> None:
        if self.task is not None:
            self.progress.stop()

    on_run_finished = on_run_failed = on_run_cancelled = on_run_pruned = _stop

    def on_run_lost(self, event: RunLost) -> None:
        self._stop(event)
        self.console.print(f"run {event.run_id}: {event.reason}")


def train_in_foreground(
    home, config: RunConfig, run_id: int | None = None, on_run_id: Callable[[int], None] = lambda _: None
) -> int:
    """Record a new run (or resume run_id), train it here and return the exit status.

    The run is claimed for this process in the same transaction that inserts or resumes it, so
    no worker can take it in between; if another process has it, RunTaken says who. Ctrl-C or
    SIGTERM cancels it cleanly (its checkpoint stays), a run with a checkpoint continues from it.
    """
    store = home.store()
    me = worker_id()
    if run_id is None:
        run_id, token = store.enqueue(config.to_dict(), worker=me), 1  # inserted already claimed: claim 1
    else:
        claimed = store.claim_to_resume(run_id, me)
        if claimed is None:
            row = store.run(run_id)
            owner = f" by {row['worker']}" if row["status"] == "running" and row["worker"] else ""
            raise RunTaken(f"run {run_id} is {row['status']}{owner}; nothing was trained here")
        token = claimed.token
    on_run_id(run_id)
    console = Console(stderr=True)
    local = LocalWorker(home, OneJob(Job(run_id, config)), forward=[ProgressView(console)])
    local.recorder.own(run_id, token)
    signalled: list[int] = []

    # Python's own SIGINT handler raises KeyboardInterrupt wherever the main thread is, which can
    # be in the middle of shutting things down; a flag is all a signal needs to set.
    handlers = {number: signal.signal(number, lambda number, _frame: signalled.append(number)) for number in STOPS}
    local.start()
    announced = False
    try:
        while not local.idle.wait(0.1):  # the job source is asked again once the run has ended
            if signalled and not announced and local.worker.cancel(run_id):
                console.print(
                    f"cancelling… (the run keeps its last checkpoint: `cifar-tui resume {run_id}` continues it)"
                )
                announced = True
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    recorded = local.close()
    row = store.run(run_id)
    store.close()
    if run_id in local.recorder.lost:  # said already, by the progress view
        return 1
    if not recorded:
        print(
            f"cifar-tui: error: run {run_id}: {local.recorder.broken or 'the store would not take writes'}; "
            f"{local.recorder.unrecorded} events were not recorded",
            file=sys.stderr,
        )
        return 1
    if row["status"] == "finished":
        from ...store.export import format_value

        console.print(
            f"run {run_id} finished: test acc {format_value('test_acc', row['test_acc']) or '–'}%"
            + (f" on {row['eval_images']:,} test images" if row["eval_images"] else "")
            + ", "
            f"{format_value('images_per_s', row['images_per_s']) or '–'} img/s"
        )
        return 0
    if row["status"] == "failed":
        print(f"cifar-tui: run {run_id} failed: {printable(row['error'] or '')}", file=sys.stderr)
        return 1
    console.print(f"run {run_id} {row['status']}" + (f": {printable(row['error'])}" if row["error"] else ""))
    return 128 + signalled[0] if signalled else 1


STOPS = (signal.SIGINT, signal.SIGTERM)


def say(line: str) -> None:
    """A line on stdout in one write: a pool's workers share one stream, and print() writes the
    text and its newline apart, so two workers' lines could run together."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class EventLines(EventSink):
    """A line per run event, for a worker's log."""

    def on_run_started(self, event: RunStarted) -> None:
        say(
            f"run {event.run_id}: started on {event.device} ({event.device_name})"
            + (f", from step {event.first_step}" if event.first_step else "")
        )

    def on_epoch_end(self, event: EpochEnd) -> None:
        say(f"run {event.run_id}: epoch {event.epoch} test acc {event.test_acc:.2f}% {event.images_per_s:,.0f} img/s")

    def on_run_finished(self, event: RunFinished) -> None:
        say(f"run {event.run_id}: finished, test acc {event.test_acc:.2f}%")

    def on_run_failed(self, event: RunFailed) -> None:
        say(f"run {event.run_id}: failed: {event.error}")

    def on_run_cancelled(self, event: RunCancelled) -> None:
        say(f"run {event.run_id}: cancelled" + (f": {event.reason}" if event.reason else ""))

    def on_run_pruned(self, event: RunPruned) -> None:
        say(f"run {event.run_id}: pruned after epoch {event.epoch} (its search's pruner stopped it)")

    def on_run_lost(self, event: RunLost) -> None:
        say(f"run {event.run_id}: {event.reason}")

    def on_run_interrupted(self, event: RunInterrupted) -> None:
        say(f"run {event.run_id}: interrupted: {event.reason}")


def run_worker(
    home,
    device: str | None,
    until_empty: bool,
    parent: int | None = None,
    pool: str | None = None,
    threads: int | None = None,
    notify: str | None = None,
) -> int:
    """Consume the queue in this process until Ctrl-C / SIGTERM (or an empty queue, or the
    parent process's end: the app whose engine this is died, say when its SSH session dropped).
    pool and threads: this worker is one device of a `worker --devices` pool (tui/worker/device_pool.py).
    Returns the exit status: 0, or 128 + the signal that stopped it (130 for Ctrl-C, 143 for SIGTERM)."""

    forward = [EventLines(), *notifiers(notify, home)]
    local = LocalWorker(home, device=device, pool=pool, threads=threads, forward=forward)
    signalled: list[int] = []

    def stop_on(number: int, _frame=None) -> None:
        signalled.append(number)

    # Set both, even where they are ignored: a worker started with `&` from a script inherits an
    # ignored SIGINT, and Ctrl-C or kill -INT must still stop it.
    handlers = {number: signal.signal(number, stop_on) for number in STOPS}
    where = f" on {device}" if device else ""
    print(f"worker {local.worker_name}{where} on {home.db_path}; Ctrl-C stops it", flush=True)
    local.start()

    def stopping(orphaned: bool = False) -> str:
        (run_id,) = local.training() or (None,)
        ending = "interrupted" if orphaned else "cancelled"
        return f"run {run_id} is {ending} (resume it later)" if run_id is not None else "no run was training"

    orphaned = None
    try:
        while not signalled and not (until_empty and local.idle.is_set()):
            time.sleep(0.2)
            if parent is not None and os.getppid() != parent:  # re-parented: the app (or pool) is gone
                orphaned = "the app or pool that started its worker is gone; resume it"
                say(f"the app or pool that started this worker is gone: stopping; {stopping(orphaned=True)}")
                break
        if signalled:
            say(f"stopping: {stopping()}")
    finally:
        local.close(interrupted=orphaned)
        close_all(forward)  # the last run's word goes out before the worker exits
        for number, handler in handlers.items():
            signal.signal(number, handler)
    return 128 + signalled[0] if signalled else 0
