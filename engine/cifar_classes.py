"""CIFAR-10's class names, in label order, and the one rule for a run's names (importable without torch)."""

from __future__ import annotations

from collections.abc import Sequence

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def class_names(recorded: Sequence[str] | None, count: int) -> tuple[str, ...]:
    """A run's class names: those recorded when it started; a run from before they were recorded
    trained on CIFAR-10 (or the synthetic set, named as it); numbers where neither fits."""
    if recorded and len(recorded) == count:
        return tuple(recorded)
    return CLASSES if count == len(CLASSES) else tuple(str(i) for i in range(count))
