"""Which device a config trains on, and how to name it for people."""

from __future__ import annotations

import torch


class DeviceUnavailable(RuntimeError):
    pass


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA, then MPS, then the CPU; an explicit device that is missing is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as error:
        raise DeviceUnavailable(f"device: {name!r} is not a device torch knows ({error})") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                "device: cuda was asked for but CUDA is not available here; use --device cpu or auto"
            )
        index = 0 if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"device: cuda:{index} does not exist; this machine has {torch.cuda.device_count()} GPU(s)"
            )
        return torch.device("cuda", index)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailable("device: mps was asked for but is not available here; use --device cpu or auto")
    return device


def available_devices() -> list[str]:
    """Every device this machine can train on, as a config names it."""
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if torch.backends.mps.is_available():
        names.append("mps")
    return names + ["cpu"]


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"{torch.get_num_threads()} CPU threads"


def memory_total(device: torch.device) -> int:
    """Bytes of memory on a CUDA device; 0 elsewhere (nothing to show)."""
    return torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0


def memory_used(device: torch.device) -> int:
    """Bytes torch holds on a CUDA device now (a host-side counter: no sync); 0 elsewhere."""
    return torch.cuda.memory_allocated(device) if device.type == "cuda" else 0


def start_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> int:
    """The most bytes torch held on a CUDA device since start_peak_memory; 0 elsewhere."""
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
