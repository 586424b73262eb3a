"""Learning-rate schedules: a pure function of the step. Each schedule is one `Schedule` here:
its name is a choice of --lr-schedule, its words the setting's help. A linear warm-up
(--warmup-epochs) runs before any of them (`rate_at`)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Span:
    """What a schedule knows of the steps it spans."""

    total: int
    warmup: int = 0  # cosine's own warm-up (an epoch's steps)
    milestones: tuple[int, ...] = ()  # multistep: the steps where the rate drops
    gamma: float = 0.1  # multistep: the rate's multiplier at each milestone
    one_cycle: tuple[float, float, float] = (0.3, 25.0, 1e4)  # onecycle: pct_start, div_factor, final_div_factor


@dataclass(frozen=True)
class Schedule:
    name: str
    about: str  # what it does, in the setting's help ("": its name says it)
    factor: Callable[[int, Span], float]  # (step, span) -> the base rate's multiplier


def _cosine(step: int, span: Span) -> float:
    if step < span.warmup:
        return (step + 1) / span.warmup
    progress = (step - span.warmup) / max(1, span.total - span.warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _rise_and_fall(peak_share: float, last: float) -> Callable[[int, Span], float]:
    """airbench's: from 0.2x up to 1x over peak_share of the steps, then straight down to `last`x."""

    def factor(step: int, span: Span) -> float:
        peak = int(span.total * peak_share)
        if step < peak:
            return 0.2 + 0.8 * step / peak
        return 1.0 - (1.0 - last) * (step - peak) / max(1, span.total - peak)

    return factor


def _one_cycle(step: int, span: Span) -> float:
    """torch's OneCycleLR (cosine, two phases): from 1/div_factor of the rate up to it over
    pct_start of the steps, then down to 1/(div_factor * final_div_factor) at the last step."""
    pct_start, div, final_div = span.one_cycle
    low, end = 1 / div, 1 / (div * final_div)
    rise_end = pct_start * span.total - 1  # the step where the rate peaks, as torch counts it
    if step <= rise_end:
        start, stop, share = low, 1.0, step / rise_end if rise_end > 0 else 1.0
    else:
        fall = (span.total - 1) - rise_end
        start, stop, share = 1.0, end, (step - rise_end) / fall if fall > 0 else 1.0
    return stop + (start - stop) / 2 * (math.cos(math.pi * share) + 1)


SCHEDULE_LIST: tuple[Schedule, ...] = (
    Schedule("constant", "", lambda step, span: 1.0),
    Schedule("cosine", "an epoch's warm-up, then a half cosine to 0", _cosine),
    Schedule(
        "linear",
        "straight down to 0 at the last step (airbench94_muon's)",
        lambda step, span: max(0.0, 1.0 - step / max(1, span.total)),
    ),  # fmt: skip
    Schedule(
        "speedrun",
        "airbench94's: from 0.2x up to 1x over 23% of the steps, then down to 0.07x",
        _rise_and_fall(0.23, 0.07),
    ),
    Schedule(
        "speedrun96",
        "airbench96's: from 0.2x up to 1x over 10% of the steps, then down to 0",
        _rise_and_fall(0.10, 0.0),
    ),
    Schedule(
        "multistep",
        "times lr_gamma at each of lr_milestones (ResNet: 0.1 at 0.5+0.75; WRN: 0.2 at 0.3+0.6+0.8)",
        lambda step, span: span.gamma ** sum(step >= m for m in span.milestones),
    ),  # fmt: skip
    Schedule(
        "onecycle",
        "torch's OneCycleLR, per step: up from lr/onecycle_div over onecycle_pct_start of the run, then down "
        "to lr/(onecycle_div*onecycle_final_div) (Smith & Topin; the rate only, momentum not cycled)",
        _one_cycle,
    ),
)
SCHEDULES = tuple(s.name for s in SCHEDULE_LIST)
BY_NAME = {s.name: s for s in SCHEDULE_LIST}


def lr_at(step: int, total_steps: int, base_lr: float, schedule: str, warmup_steps: int = 0, **span) -> float:
    """The rate at a step of `total_steps`; `span` holds the other fields of Span the schedule reads."""
    return base_lr * BY_NAME[schedule].factor(step, Span(total_steps, warmup_steps, **span))


def rate_at(config: Any, step: int, total: int, per_epoch: int) -> float:
    """A run's rate at a step of `total`: --warmup-epochs' linear warm-up from lr/steps to lr,
    then its schedule over the steps left (cosine warms up an epoch of its own, as it always has);
    with --swa-start, SWALR's from that epoch on."""
    swa_first = config.swa_start * per_epoch
    if swa_first and step >= swa_first:
        return swa_rate(scheduled_rate(config, swa_first, total, per_epoch), config, (step - swa_first) // per_epoch)
    return scheduled_rate(config, step, total, per_epoch)


def swa_rate(start: float, config: Any, epochs_in: int) -> float:
    """torch's SWALR (cosine), stepped at each epoch's end: the rate of the epoch `epochs_in` after
    the average began, from the schedule's rate where it began (`start`) to swa_lr over
    swa_anneal_epochs (0: swa_lr at once, as SWALR does)."""
    anneal = config.swa_anneal_epochs
    t = 1.0 if anneal == 0 else min(1.0, epochs_in / anneal)
    alpha = (1 - math.cos(math.pi * t)) / 2
    return config.swa_lr * alpha + start * (1 - alpha)


def scheduled_rate(config: Any, step: int, total: int, per_epoch: int) -> float:
    warm = min(total, round(config.warmup_epochs * per_epoch))
    if step < warm:
        return config.lr * (step + 1) / warm
    milestones = tuple(m - warm for m in milestone_steps(config.lr_milestones, total, per_epoch))
    one_cycle = (config.onecycle_pct_start, config.onecycle_div, config.onecycle_final_div)
    span = Span(total - warm, per_epoch, milestones, config.lr_gamma, one_cycle)
    return config.lr * BY_NAME[config.lr_schedule].factor(step - warm, span)


@functools.cache  # asked at every training step: the text is parsed once per run
def milestone_steps(text: str, total: int, per_epoch: int) -> tuple[int, ...]:
    """lr_milestones as steps: a fraction of the run (0.5) or an epoch number (30)."""
    return tuple(round(v * total) if v < 1 else round(v * per_epoch) for v in parse_milestones(text))


def parse_milestones(text: str) -> tuple[float, ...]:
    """The milestones of "0.5+0.75" or "30+60+80", rising; ValueError with the reason. Joined by +,
    not commas: a comma makes a sweep axis (0.5+0.75,0.3+0.6+0.8 sweeps two sets)."""
    try:
        values = tuple(float(part) for part in str(text).split("+") if part.strip())
    except ValueError:
        raise ValueError(f"fractions of the run (0.5+0.75) or epochs (30+60) joined by +; got {text!r}") from None
    if any(v <= 0 or math.isinf(v) or math.isnan(v) for v in values) or list(values) != sorted(set(values)):
        raise ValueError(f"rising positive fractions of the run (0.5+0.75) or epochs (30+60); got {text!r}")
    if any(v >= 1 and v != int(v) for v in values):
        raise ValueError(f"an epoch milestone is a whole epoch number; got {text!r}")
    return values


def schedules_help() -> str:
    return "; ".join(f"{s.name}: {s.about}" if s.about else s.name for s in SCHEDULE_LIST) + "."
