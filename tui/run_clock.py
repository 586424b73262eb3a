"""A run's own clock, for exports that want wall times (TensorBoard, MLflow): its start, then each
epoch's seconds; an epoch's time at its last step and a batch's in between."""

from __future__ import annotations

import bisect
import math
from datetime import datetime
from typing import Any


class RunClock:
    """Wall times from the run's own clock: its start, then each epoch's seconds, each epoch's
    time at its last step and a batch's in between."""

    def __init__(self, run: dict[str, Any], epochs: list[dict[str, Any]]):
        self.steps: list[int] = []
        self.times: list[float] = []
        try:
            start = datetime.fromisoformat(run["started_at"]).timestamp()
        except (TypeError, ValueError):
            return
        elapsed, self.steps, self.times = 0.0, [0], [start]
        for row in epochs:
            elapsed += row["seconds"] if finite(row.get("seconds")) else 0.0
            if row["step"] > self.steps[-1]:
                self.steps.append(row["step"])
                self.times.append(start + elapsed)

    def at(self, step: int) -> float | None:
        if not self.steps:
            return None
        after = bisect.bisect_right(self.steps, step)
        if after == len(self.steps):
            return self.times[-1]
        before = after - 1
        share = (step - self.steps[before]) / (self.steps[after] - self.steps[before])
        return self.times[before] + (self.times[after] - self.times[before]) * share


def finite(value: Any) -> bool:
    """A number worth exporting: not a bool, not NaN or infinite, not missing."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
