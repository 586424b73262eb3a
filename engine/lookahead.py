"""airbench94's lookahead: every 5 steps the weights (and BatchNorm statistics) move to a moving
average of themselves that grows slower as training ends; the last step leaves the average."""

from __future__ import annotations

import torch
from torch import nn

EVERY = 5  # steps


class Lookahead:
    def __init__(self, model: nn.Module, total_steps: int):
        self.model, self.total_steps = model, total_steps
        self.average = {name: value.detach().clone() for name, value in model.state_dict().items()}

    @torch.no_grad()
    def after_step(self, step: int) -> None:
        """step: the steps done so far (1 after the first)."""
        if step >= self.total_steps:
            self._pull(1.0)  # the run's weights are the average
        elif step % EVERY == 0:
            self._pull(0.95**EVERY * (step / self.total_steps) ** 3)

    def _pull(self, decay: float) -> None:
        for name, value in self.model.state_dict().items():
            if value.dtype.is_floating_point:
                average = self.average[name]
                average.lerp_(value, 1 - decay)
                value.copy_(average)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.average

    def load_state_dict(self, average: dict[str, torch.Tensor]) -> None:
        for name, value in average.items():
            self.average[name].copy_(value)
