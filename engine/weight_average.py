"""The averages of the weights the test set is evaluated with, the raw model's accuracy recorded
beside. --ema: an exponential moving average of the weights and the BatchNorm buffers, updated
after every step with torch's own averaging (get_ema_multi_avg_fn's foreach lerp, an
AveragedModel with use_buffers=True). --swa-start: torch's AveragedModel (the equal average of
the weights at each epoch's end) with its BatchNorm statistics recomputed by update_bn."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn


class WeightAverage(AveragedModel):
    """AveragedModel, its update kept off the host: AveragedModel.update_parameters asks its
    counter (a tensor on the model's device) whether this is the first update, a host-device sync
    at every step on a GPU. Here the host knows; the counter still counts, for checkpoints."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool = False):
        super().__init__(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        self.decay, self.warmup = decay, warmup
        self.updates = 0  # n_averaged, known on the host

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        ours = [*self.module.parameters(), *self.module.buffers()]
        theirs = [t.detach() for t in (*model.parameters(), *model.buffers())]
        if not self.updates:  # the first update copies, as AveragedModel's does
            for mine, new in zip(ours, theirs, strict=True):
                mine.detach().copy_(new)
        else:  # by dtype, as AveragedModel groups them: its function lerps floats, blends the rest
            by_dtype: dict[torch.dtype, tuple[list, list]] = {}
            for mine, new in zip(ours, theirs, strict=True):
                pair = by_dtype.setdefault(mine.dtype, ([], []))
                pair[0].append(mine.detach())
                pair[1].append(new)
            average = get_ema_multi_avg_fn(warmed_decay(self.decay, self.updates)) if self.warmup else self.multi_avg_fn
            for mine, new in by_dtype.values():
                average(mine, new, self.n_averaged)
        self.n_averaged += 1
        self.updates += 1

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        loaded = super().load_state_dict(state_dict, strict, assign)
        self.updates = int(self.n_averaged)  # once, at a resume
        return loaded


def warmed_decay(decay: float, updates: int) -> float:
    """--ema-warmup: the decay of the update after `updates` others, min(decay, (1 + t) / (10 + t))
    (TensorFlow's ExponentialMovingAverage with num_updates), so that an early average is not
    mostly the initial weights: 0.999 is reached after about 9,000 steps."""
    return min(decay, (1 + updates) / (10 + updates))


def make_ema(model: nn.Module, decay: float, warmup: bool = False) -> WeightAverage | None:
    """None when --ema is 0. The average starts as a copy of the model's weights."""
    return WeightAverage(model, decay, warmup) if decay else None


def make_swa(model: nn.Module, swa_start: int) -> AveragedModel | None:
    """None when --swa-start is 0. Empty until the first epoch after swa_start adds the weights."""
    return AveragedModel(model) if swa_start else None


def add_to_swa(swa: AveragedModel, model: nn.Module, batches) -> None:
    """The epoch's weights into the equal average, then the average's BatchNorm statistics from a
    pass over `batches` (update_bn), the training's random state left as it was."""
    swa.update_parameters(model)
    devices = [model_device] if (model_device := next(model.parameters()).device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        update_bn(batches, swa)


def evaluated_weights(checkpoint: dict) -> dict:
    """The weights a checkpoint's run was tested with: its EMA's, its SWA's once that has begun
    (BatchNorm statistics recomputed), else the model's."""
    for average in ("ema", "swa"):
        if average in checkpoint and int(checkpoint[average]["n_averaged"]) > 0:
            return averaged_weights(checkpoint[average])
    return checkpoint["model"]


def averaged_weights(ema_state: dict) -> dict:
    """The model's state_dict inside a checkpoint's AveragedModel state (its keys under module.)."""
    return {key.removeprefix("module."): value for key, value in ema_state.items() if key.startswith("module.")}
