"""`cifar-tui models check`: a model built and run as a run would, on the device."""

from __future__ import annotations

import time
from typing import Any

from .config import RunConfig


def check_model(config: RunConfig, repeats: int = 10) -> dict[str, Any]:
    """A model built and run as a run would (`models check`): parameters, output shape and the
    time of a forward pass on the device, or {"error", "detail"} when the model's code fails."""
    import torch

    from .device import describe_device, resolve_device
    from .models import build_model, count_parameters
    from .train_step import prepare_inputs, prepare_model
    from .user_model import UserModelError, check_output, user_traceback

    device = resolve_device(config.device)

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    try:
        raw = build_model(config.model, 10, config.dropout, config.init, config.model_source).to(device)
        check_output(raw, config.model, 10, device)
        model = prepare_model(raw, config)
        model.eval()
        inputs = prepare_inputs(torch.rand(config.batch_size, 3, 32, 32, device=device), config)
        with torch.no_grad():
            model(inputs)  # warm-up: allocations, kernel selection
            synchronize()
            started = time.perf_counter()
            for _ in range(repeats):
                model(inputs)
            synchronize()
        seconds = (time.perf_counter() - started) / repeats
    except UserModelError as error:
        return {"error": str(error), "detail": error.detail}
    except Exception as error:
        return {"error": f"model: {type(error).__name__}: {error}", "detail": user_traceback(error)}
    return {
        "model": config.model_label,
        "params": f"{count_parameters(raw):,}",
        "input": "3x32x32",
        "output": f"({config.batch_size}, 10)",
        "device": f"{device} ({describe_device(device)})",
        "forward ms": f"{seconds * 1000:.2f} at batch {config.batch_size}",
        "images/s (forward)": f"{config.batch_size / seconds:,.0f}",
    }
