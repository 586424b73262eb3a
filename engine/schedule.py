"""Learning-rate schedules: a pure function of the step."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine", "linear", "speedrun")
SPEEDRUN_PEAK = 0.23  # of the steps: the speedrun's rate rises from 0.2x to 1x, then falls to 0.07x


def lr_at(step: int, total_steps: int, base_lr: float, schedule: str, warmup_steps: int = 0) -> float:
    """constant: base_lr. cosine: a linear warm-up, then a half cosine from base_lr to 0.
    linear (airbench94_muon's): from base_lr straight down to 0 at the last step.
    speedrun (airbench94's): linear from 0.2x to 1x over the first 23% of the steps, then to 0.07x."""
    if schedule == "constant":
        return base_lr
    if schedule == "linear":
        return base_lr * max(0.0, 1.0 - step / max(1, total_steps))
    if schedule == "speedrun":
        peak = int(total_steps * SPEEDRUN_PEAK)
        if step < peak:
            return base_lr * (0.2 + 0.8 * step / peak)
        return base_lr * (1.0 - 0.93 * (step - peak) / max(1, total_steps - peak))
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
