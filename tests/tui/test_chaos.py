"""The chaos soak (tui/bench/chaos.py) for a minute: tiny runs and a search trained by plain
workers, a `--devices cpu,cpu` pool and the Ray dispatcher on one home while a fault of every
kind is injected every few seconds, then a drain; every invariant of README's Reliability section
must hold. `cifar-tui bench chaos` runs the long version (200 runs, 10 minutes)."""

import importlib.util

import pytest

from cifar_tui.tui.bench.chaos import KINDS, soak

RAY = importlib.util.find_spec("ray") is not None


@pytest.mark.slow
def test_a_minute_of_faults_of_every_kind_breaks_no_invariant(tmp_path):
    # About 100 s on 2 cores: 60 s of faults (one every 2.5 s, the kinds drawn from a shuffled
    # bag: each of the six at least twice), then the drain of what is left.
    result = soak(tmp_path / "home", runs=36, seconds=60, seed=3, ray=RAY, every=2.5)
    broken = {name: held["detail"] for name, held in result["invariants"].items() if not held["held"]}
    assert not broken, (broken, result["fault log"])
    kinds = [words for kind, words in KINDS.items() if RAY or kind != "kill_dispatcher"]
    assert all(result["faults by kind"][words] >= 1 for words in kinds), result["faults by kind"]
    # The soak restarted every worker and dispatcher it killed, the faults ended runs before
    # their time, and the drain trained every one of them to its end.
    restarts = result["restarts"]
    assert restarts.get("plain workers (by the soak)", 0) == result["faults by kind"][KINDS["kill_worker"]]
    if RAY:
        assert restarts.get("dispatcher (by the soak)", 0) == result["faults by kind"][KINDS["kill_dispatcher"]]
    assert result["requeued for the drain"] >= 1
    assert result["finished"] + result["pruned"] == result["runs queued"] == 36
    assert result["pruned"] >= 1  # the search's pruner stopped some trials, which count as ended
