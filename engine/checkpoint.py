"""A run's state at an epoch end, written atomically so that a crash never leaves half a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

FILE_NAME = "last.pt"


def checkpoint_path(checkpoint_dir: Path, run_id: int) -> Path:
    return checkpoint_dir / str(run_id) / FILE_NAME


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save to a temp file in the same folder, fsync, then os.replace over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any] | None:
    if not path.exists():
        return None
    # weights_only: the file holds tensors, numbers and strings; never arbitrary objects.
    return torch.load(path, map_location=device, weights_only=True)
