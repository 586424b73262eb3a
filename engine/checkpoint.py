"""A run's state at an epoch end, written so that a crash never leaves half a file and a file
never serves another run.

The loop writes the state to a temp file (`write_pending`) and emits it with the epoch's
EpochEnd; whoever records that event moves it into place (`commit`) only after the epoch's
row and every loss before it are durable. A kill at any moment leaves either the old
checkpoint, or the new one with everything it covers recorded.

torch is imported inside the functions: the store's recorder calls `commit`, and the store
must not import torch.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

FILE_NAME = "last.pt"
# run_id is not among them: checkpoints written before it was saved (they carry the config) still resume.
REQUIRED = ("config", "epoch", "step", "model", "optimizer", "torch_rng", "generator")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: the message names the file and what to do."""


def checkpoint_path(checkpoint_dir: Path, run_id: int) -> Path:
    return checkpoint_dir / str(run_id) / FILE_NAME


def pending_path(path: Path, epoch: int) -> Path:
    """The temp file of one epoch's checkpoint, one per epoch and process: a slow recorder never
    sees a later epoch's half-written file under an earlier epoch's name, and a worker that lost
    its run (fencing, store/recorder.py) never writes the file its new owner moves into place."""
    return path.with_name(f"{path.name}.epoch{epoch}.{os.getpid()}.tmp")


def write_pending(path: Path, epoch: int, state: dict[str, Any] | bytes) -> Path:
    """torch.save to this epoch's temp file (or the bytes of a checkpoint written elsewhere, on a
    cluster node) and fsync it; on any failure nothing is left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = pending_path(path, epoch)
    try:
        with open(temp, "wb") as f:
            if isinstance(state, bytes):
                f.write(state)
            else:
                import torch

                torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as error:
        full = _disk_full(error, path.parent)  # asked before the temp file frees its space
        temp.unlink(missing_ok=True)
        if full:
            raise OSError(errno.ENOSPC, "No space left on device", str(path.parent)) from error
        raise
    return temp


def commit(temp: Path | str, path: Path | str) -> None:
    """Move a pending checkpoint into place, atomically, and make the rename durable."""
    path = Path(path)
    os.replace(temp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)


def remove_pending(path: Path) -> None:
    """Temp files a killed process left beside the checkpoint."""
    for stray in path.parent.glob(f"{path.name}.*.tmp"):
        stray.unlink(missing_ok=True)


def load_checkpoint(
    path: Path, device, run_id: int | None = None, config_json: str | None = None, mmap: bool = False
) -> dict[str, Any] | None:
    """The checkpoint at path, checked to belong to this run; None if there is none. mmap: its
    tensors are mapped, not read (a check that needs only its config and run id)."""
    import pickle
    import zipfile

    import torch

    if not path.exists():
        return None
    advice = f"delete {path} to train the run from its start"
    try:
        # weights_only: the file holds tensors, numbers and strings; never arbitrary objects.
        state = torch.load(path, map_location=device, weights_only=True, mmap=mmap)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint ({_first_line(error)}); {advice}") from None
    missing = [key for key in REQUIRED if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}: not a cifar-tui checkpoint; {advice}")
    if run_id is not None and state.get("run_id", run_id) != run_id:
        raise CheckpointError(f"{path} belongs to run {state['run_id']}, not run {run_id}; {advice}")
    if config_json is not None and not _same_training(state["config"], config_json):
        raise CheckpointError(f"{path} was written with another config than run {run_id}'s; {advice}")
    return state


def _same_training(saved_json: str, config_json: str) -> bool:
    """The same run's settings: where it trains, what it is called and how many epochs it goes on
    for may change between tries; everything that shapes the weights may not. A field at its
    default counts as absent, so a checkpoint written before a field existed (an older
    cifar-tui's) matches the run's config with that field filled in."""
    import json

    from .config import RunConfig

    defaults = {key: json.dumps(value, sort_keys=True) for key, value in RunConfig().to_dict().items()}

    def essentials(text: str) -> dict:
        data = json.loads(text)
        return {
            key: value
            for key, value in data.items()
            if key not in ("device", "name", "epochs") and json.dumps(value, sort_keys=True) != defaults.get(key)
        }

    try:
        return essentials(saved_json) == essentials(config_json)
    except (TypeError, ValueError, AttributeError):
        return False


def _disk_full(error: BaseException, folder: Path) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    # torch's zip writer reports a failed write as a RuntimeError: ask the disk.
    try:
        import shutil

        return isinstance(error, RuntimeError) and shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
