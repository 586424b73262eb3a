"""Learning-rate schedules: a pure function of the step."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")


def lr_at(step: int, total_steps: int, base_lr: float, schedule: str, warmup_steps: int = 0) -> float:
    """constant: base_lr. cosine: a linear warm-up, then a half cosine from base_lr to 0."""
    if schedule == "constant":
        return base_lr
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
