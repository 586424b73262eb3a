import threading
import time

import pytest

from cifar_tui.engine.config import make_config
from cifar_tui.engine.data import DatasetUnavailable
from cifar_tui.engine.events import Losses, RunCancelled, RunFailed, RunFinished, RunStarted
from cifar_tui.engine.worker import Job, Worker


class Jobs:
    """A job source over a fixed list, as the store's claim would be."""

    def __init__(self, jobs):
        self.jobs = list(jobs)

    def __call__(self):
        return self.jobs.pop(0) if self.jobs else None


class Events:
    def __init__(self):
        self.items = []
        self.changed = threading.Condition()

    def __call__(self, event):
        with self.changed:
            self.items.append(event)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout=60):
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.items), timeout), self.items


def quick(**changes):
    settings = dict(dataset="synthetic", device="cpu", epochs=1, limit_batches=3)
    return make_config("seed-cnn", **{**settings, **changes})


def test_a_failing_run_becomes_run_failed_and_the_next_still_runs(tmp_path, monkeypatch):
    def no_network(files, data_dir):
        raise DatasetUnavailable("no CIFAR-10 here")

    monkeypatch.setattr("cifar_tui.engine.cifar_files._download", no_network)
    events = Events()
    bad = Job(1, quick(dataset="cifar10"))
    good = Job(2, quick())
    worker = Worker(Jobs([bad, good]), events, data_dir=tmp_path, idle_wait_s=0.05)
    worker.start()
    events.wait_for(lambda items: any(isinstance(e, RunFinished) for e in items))
    assert worker.close()
    failed = [e for e in events.items if isinstance(e, RunFailed)]
    assert [(e.run_id, e.error) for e in failed] == [(1, "no CIFAR-10 here")]
    assert [e.run_id for e in events.items if isinstance(e, RunFinished)] == [2]


def test_cancel_stops_the_current_run_within_a_second(tmp_path):
    events = Events()
    worker = Worker(Jobs([Job(5, quick(limit_batches=0, epochs=5))]), events, data_dir=tmp_path)
    worker.start()
    events.wait_for(lambda items: any(isinstance(e, Losses) for e in items))
    asked = time.monotonic()
    assert worker.cancel(5)
    events.wait_for(lambda items: isinstance(items[-1], RunCancelled), timeout=5)
    assert time.monotonic() - asked < 1.0
    assert worker.close()
    assert isinstance(events.items[0], RunStarted)


def test_cancel_of_another_run_does_nothing(tmp_path):
    worker = Worker(Jobs([]), lambda e: None, data_dir=tmp_path)
    assert not worker.cancel(3)
    worker.start()
    assert worker.close(timeout=5)


@pytest.mark.slow
def test_a_paused_run_holds_at_a_batch_until_it_goes_on(tmp_path):
    events = Events()
    worker = Worker(Jobs([Job(1, quick(limit_batches=0, epochs=5))]), events, data_dir=tmp_path)
    worker.start()
    events.wait_for(lambda items: any(isinstance(e, Losses) for e in items))
    assert worker.pause_run(1, True) and not worker.pause_run(2, True)
    time.sleep(0.5)  # the chunk in flight lands
    held = len(events.items)
    time.sleep(1.0)
    assert len(events.items) == held  # nothing trains while paused
    worker.pause_run(1, False)
    events.wait_for(lambda items: len(items) > held)
    assert worker.close(timeout=5)  # closing cancels it, paused or not
    assert isinstance(events.items[-1], RunCancelled)


def test_a_paused_run_is_still_cancelled_at_once(tmp_path):
    events = Events()
    worker = Worker(Jobs([Job(1, quick(limit_batches=0, epochs=5))]), events, data_dir=tmp_path)
    worker.start()
    events.wait_for(lambda items: any(isinstance(e, Losses) for e in items))
    worker.pause_run(1, True)
    time.sleep(0.3)
    assert worker.cancel(1)
    events.wait_for(lambda items: isinstance(items[-1], RunCancelled), timeout=5)
    assert worker.close()


def test_close_cancels_a_running_run(tmp_path):
    events = Events()
    worker = Worker(Jobs([Job(1, quick(limit_batches=0, epochs=5))]), events, data_dir=tmp_path)
    worker.start()
    events.wait_for(lambda items: any(isinstance(e, Losses) for e in items))
    assert worker.close(timeout=5)
    assert isinstance(events.items[-1], RunCancelled)
