"""Evaluating a trained model on the held-out sets of --eval-on (engine/eval_sets.py): the whole
sets loaded before training (so a mistake fails the run before it trains), CIFAR-10-C streamed a
corruption and severity at a time; each set's figures go out as one Evaluated event."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from . import eval_sets
from .data import Split
from .events import Evaluated


@dataclass(frozen=True)
class Prepared:
    set: eval_sets.EvalSet
    parts: list[eval_sets.EvalPart]


def prepare(text: str, classes: tuple[str, ...], data_dir: Path) -> list[Prepared]:
    """The sets of --eval-on, checked against the training data's classes; the small ones loaded
    now, CIFAR-10-C's parts left to be read when evaluated (950,000 images)."""
    prepared = []
    for s in eval_sets.parse_list(text):
        parts = list(eval_sets.parts(s, classes, data_dir))
        if not s.of.streamed:
            parts = [eval_sets.EvalPart(p.name, _kept(p.load())) for p in parts]
        prepared.append(Prepared(s, parts))
    return prepared


def _kept(split: Split) -> Callable[[], Split]:
    return lambda: split


def evaluate_sets(
    prepared: list[Prepared],
    evaluate: Callable[[Split], tuple[float, float]],  # (accuracy %, loss) of the model on a split
    device: torch.device,
    run_id: int,
    epoch: int,
    test_acc: float,
    emit: Callable[[Evaluated], None],
) -> None:
    for item in prepared:
        figures = []
        for part in item.parts:
            split = part.load().to(device)
            acc, loss = evaluate(split)
            figures.append((part, len(split), acc, loss))
            del split  # a CIFAR-10-C part at a time on the device
        emit(
            Evaluated(
                run_id,
                epoch,
                item.set.label,
                tuple((part.name, images, acc, loss) for part, images, acc, loss in figures),
                summary(figures, test_acc),
            )
        )


def summary(figures: list, test_acc: float) -> tuple[tuple[str, float], ...]:
    """What a paper reports of a set: its accuracy and loss, and its gap (the test accuracy minus
    it: the points lost); for CIFAR-10-C the mean over the benchmark corruptions evaluated (all of
    them when only extra ones were chosen) and each severity's mean."""
    chosen = [f for f in figures if f[0].benchmark] or figures
    acc = statistics.fmean(f[2] for f in chosen)
    out = [("acc", acc), ("loss", statistics.fmean(f[3] for f in chosen)), ("gap", test_acc - acc)]
    for severity in sorted({f[0].severity for f in chosen if f[0].severity}):
        out.append((f"s{severity}", statistics.fmean(f[2] for f in chosen if f[0].severity == severity)))
    return tuple(out)
