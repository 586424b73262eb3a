"""Training without the app: `cifar-tui run` with a rich progress bar."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine.config import RunConfig
from engine.events import EpochEnd, Losses, RunCancelled, RunFailed, RunFinished, RunStarted
from engine.worker import Job, run_job
from store.recorder import Recorder
from tui.cancel_watcher import CancelWatcher


class ProgressView:
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

    def __call__(self, event: Any) -> None:
        match event:
            case RunStarted():
                self.console.print(f"run {event.run_id} on {event.device} ({event.device_name}), "
                                   f"{event.params:,} parameters")
                self.progress.start()
                self.task = self.progress.add_task(f"run {event.run_id}", total=event.total_steps,
                                                   speed="-", loss="-")
            case Losses() if self.task is not None:
                self.progress.update(self.task, completed=event.first_step + len(event.losses),
                                     loss=f"{event.losses[-1]:.4f}")
            case EpochEnd():
                self.progress.update(self.task, speed=f"{event.images_per_s:,.0f}")
                self.progress.console.print(
                    f"epoch {event.epoch}: train loss {event.train_loss:.4f}  test loss {event.test_loss:.4f}  "
                    f"test acc {event.test_acc:.2f}%  {event.seconds:.1f}s  {event.images_per_s:,.0f} img/s")
            case RunFinished() | RunFailed() | RunCancelled():
                self.progress.stop()


def train_in_foreground(home, config: RunConfig, run_id: int | None = None) -> str:
    """Record a run (or take the queued run_id), train it here and return its final status.

    Ctrl-C cancels it cleanly; a run with a checkpoint continues from it.
    """
    store = home.store()
    if run_id is None:
        run_id = store.enqueue(config.to_dict())
    store.claim(run_id)
    console = Console(stderr=True)
    view = ProgressView(console)
    recorder = Recorder(home.db_path, forward=[view])
    stop = threading.Event()
    thread = threading.Thread(target=run_job, args=(Job(run_id, config), recorder, stop.is_set, home.data_dir,
                                                    home.checkpoint_dir))
    watcher = CancelWatcher(home.db_path, recorder.worker, lambda _: stop.set()).start()
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:
        console.print("cancelling…")
        stop.set()
        thread.join()
    watcher.close()
    recorder.close()
    row = store.run(run_id)
    if row["status"] == "finished":
        console.print(f"run {run_id} finished: test acc {row['test_acc']:.2f}%, "
                      f"{row['images_per_s']:,.0f} img/s")
    elif row["status"] == "failed":
        print(f"cifar-tui: run {run_id} failed: {row['error']}", file=sys.stderr)
    else:
        console.print(f"run {run_id} {row['status']}")
    return row["status"]


class EventLines:
    """A line per run event, for a worker's log."""

    def __call__(self, event: Any) -> None:
        match event:
            case RunStarted():
                print(f"run {event.run_id}: started on {event.device} ({event.device_name})"
                      + (f", from step {event.first_step}" if event.first_step else ""), flush=True)
            case EpochEnd():
                print(f"run {event.run_id}: epoch {event.epoch} test acc {event.test_acc:.2f}% "
                      f"{event.images_per_s:,.0f} img/s", flush=True)
            case RunFinished():
                print(f"run {event.run_id}: finished, test acc {event.test_acc:.2f}%", flush=True)
            case RunFailed():
                print(f"run {event.run_id}: failed: {event.error}", flush=True)
            case RunCancelled():
                print(f"run {event.run_id}: cancelled", flush=True)


def run_worker(home, device: str | None, until_empty: bool, parent: int | None = None) -> None:
    """Consume the queue in this process until Ctrl-C / SIGTERM (or an empty queue, or the
    parent process's end: the app whose engine this is died, say when its SSH session dropped)."""
    import signal

    from engine.worker import Worker
    from tui.job_source import QueueJobs

    recorder = Recorder(home.db_path, forward=[EventLines()])
    jobs = QueueJobs(home, recorder, device)
    empty = threading.Event()

    def next_job():
        job = jobs()
        if job is None and until_empty:
            empty.set()
        return job

    worker = Worker(next_job, recorder, home.data_dir, checkpoint_dir=home.checkpoint_dir)
    watcher = CancelWatcher(home.db_path, jobs.worker_name, worker.cancel)
    signal.signal(signal.SIGTERM, lambda *_: empty.set())
    if hasattr(signal, "SIGUSR1"):  # the app pauses its engine process with these (tui/engine_process.py)
        signal.signal(signal.SIGUSR1, lambda *_: (worker.pause(), print("paused: no new run starts", flush=True)))
        signal.signal(signal.SIGUSR2, lambda *_: (worker.resume(), print("resumed", flush=True)))
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1, signal.SIGUSR2})
    print(f"worker {jobs.worker_name} on {home.db_path}; Ctrl-C stops it", flush=True)
    worker.start()
    watcher.start()
    try:
        while not empty.wait(0.2):
            if parent is not None and os.getppid() != parent:  # re-parented: the app is gone
                print("the app that started this worker is gone: stopping, the current run is cancelled",
                      flush=True)
                break
    except KeyboardInterrupt:
        print("stopping: the current run is cancelled (resume it later)", flush=True)
    finally:
        watcher.close()
        worker.close(timeout=30)
        recorder.close()
