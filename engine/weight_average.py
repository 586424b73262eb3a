"""--ema: an exponential moving average of the weights and the BatchNorm buffers, updated after
every step: torch's own AveragedModel with get_ema_multi_avg_fn and use_buffers=True (no code of
ours averages). The test set is evaluated with it; the raw model's accuracy is recorded beside."""

from __future__ import annotations

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def make_ema(model: nn.Module, decay: float) -> AveragedModel | None:
    """None when --ema is 0. The average starts as a copy of the model's weights (its first
    update copies them, as AveragedModel's does)."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def averaged_weights(ema_state: dict) -> dict:
    """The model's state_dict inside a checkpoint's AveragedModel state (its keys under module.)."""
    return {key.removeprefix("module."): value for key, value in ema_state.items() if key.startswith("module.")}
