"""Learning-rate schedules: a pure function of the step. Each schedule is one `Schedule` here:
its name is a choice of --lr-schedule, its words the setting's help."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

SPEEDRUN_PEAK = 0.23  # of the steps: the speedrun's rate rises from 0.2x to 1x, then falls to 0.07x


@dataclass(frozen=True)
class Schedule:
    name: str
    about: str  # what it does, in the setting's help ("": its name says it)
    factor: Callable[[int, int, int], float]  # (step, total steps, warm-up steps) -> the base rate's multiplier


def _cosine(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _speedrun(step: int, total: int, warmup: int) -> float:
    peak = int(total * SPEEDRUN_PEAK)
    if step < peak:
        return 0.2 + 0.8 * step / peak
    return 1.0 - 0.93 * (step - peak) / max(1, total - peak)


SCHEDULE_LIST: tuple[Schedule, ...] = (
    Schedule("constant", "", lambda step, total, warmup: 1.0),
    Schedule("cosine", "an epoch's warm-up, then a half cosine to 0", _cosine),
    Schedule(
        "linear",
        "straight down to 0 at the last step (airbench94_muon's)",
        lambda step, total, warmup: max(0.0, 1.0 - step / max(1, total)),
    ),  # fmt: skip
    Schedule("speedrun", "airbench94's: from 0.2x up to 1x over 23% of the steps, then down to 0.07x", _speedrun),
)
SCHEDULES = tuple(s.name for s in SCHEDULE_LIST)
BY_NAME = {s.name: s for s in SCHEDULE_LIST}


def lr_at(step: int, total_steps: int, base_lr: float, schedule: str, warmup_steps: int = 0) -> float:
    return base_lr * BY_NAME[schedule].factor(step, total_steps, warmup_steps)


def schedules_help() -> str:
    return "; ".join(f"{s.name}: {s.about}" if s.about else s.name for s in SCHEDULE_LIST) + "."
