"""Whether a run can train on a machine, from the names of its devices alone (no torch): the
command line asks torch for the names (engine/device.py), the app reads the ones its engine
registered in the store. One rule, one wording, both places."""

from __future__ import annotations


def device_problem(device: str, compile_mode: str, devices: list[str]) -> tuple[str, str] | None:
    """(field, message) when a config's device (and compile mode) cannot run on a machine with
    these devices (cuda:0, mps, cpu, as a config names them); None when it can."""
    gpus = [d for d in devices if d.startswith("cuda")]
    name = "cuda:0" if device == "cuda" else device
    if name == "auto":
        name = (gpus or [d for d in devices if d == "mps"] or ["cpu"])[0]
    elif name.startswith("cuda") and not gpus:
        return "device", "cuda was asked for but CUDA is not available here; use cpu or auto"
    elif name == "mps" and "mps" not in devices:
        return "device", "mps was asked for but is not available here; use cpu or auto"
    elif name not in devices:
        return "device", f"{name} does not exist; this machine has {', '.join(devices)}"
    if compile_mode == "cudagraphs" and not name.startswith("cuda"):
        return "compile", f"cudagraphs needs a CUDA device; {device} is {name}"
    return None
