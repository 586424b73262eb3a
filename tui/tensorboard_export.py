"""`cifar-tui export --tensorboard DIR FILTER`: the runs as TensorBoard runs, written with
TensorBoard's own writer (torch.utils.tensorboard, which needs the `tensorboard` package: the
extra `cifar-tui[tensorboard]`).

One folder a run, `<id>-<name>` (the name made safe for a folder), holding:
- `loss/batch`: each step's batch loss;
- at each epoch's last step: `loss/train`, `loss/test`, `accuracy/test` (and `accuracy/test_raw`
  for an --ema run's raw model), `lr`, `speed/images_per_s`, and `held_out/<set>` for each
  held-out set evaluated at that epoch;
- the config as hparams, with the final test accuracy, best test accuracy and test loss as its
  metrics (TensorBoard's HParams table and parallel-coordinates view).
Wall times follow the run's own clock (its start, then each epoch's seconds), so TensorBoard's
relative axis is training time. Exporting again replaces a run's folder: nothing is duplicated.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store.columns import HEADLINE
from .run_clock import RunClock, finite

if TYPE_CHECKING:
    from ..store.runs import RunStore

EXTRA = "pip install 'cifar-tui[tensorboard]'"
EPOCH_SCALARS = {  # tag -> the epoch row's column
    "loss/train": "train_loss",
    "loss/test": "test_loss",
    "accuracy/test": "test_acc",
    "accuracy/test_raw": "raw_test_acc",
    "lr": "lr",
    "speed/images_per_s": "images_per_s",
}
FINAL_METRICS = {f"hparams/{c}": c for c in ("test_acc", HEADLINE, "test_loss")}  # HEADLINE: the best accuracy


class TensorBoardMissing(ImportError):
    """TensorBoard is not installed; the message says how to install it."""


def run_folder_name(run: dict[str, Any]) -> str:
    """`<id>-<name>`, the name's characters outside letters, digits, `.`, `_` and `-` as `_`
    (a name is any text: a slash or `..` must not make a path)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run["name"] or "")[:60].strip(".")
    return f"{run['id']}-{safe}" if safe else str(run["id"])


def export_tensorboard(store: RunStore, runs: list[dict[str, Any]], folder: Path) -> int:
    """Write each run's folder under folder (replacing what an earlier export wrote for that run
    id); the number of scalars written."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TensorBoardMissing(f"tensorboard: TensorBoard is not installed here; {EXTRA}") from None
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for run in runs:
        for old in folder.glob(f"{run['id']}-*"):  # its folder under an older name too
            shutil.rmtree(old, ignore_errors=True)
        target = folder / run_folder_name(run)
        shutil.rmtree(target, ignore_errors=True)
        writer = SummaryWriter(log_dir=str(target))
        try:
            written += _write_run(writer, store, run)
        finally:
            writer.close()
    return written


def _write_run(writer, store: RunStore, run: dict[str, Any]) -> int:
    epochs = store.epochs(run["id"])
    clock = RunClock(run, epochs)
    written = 0
    for _run, step, _epoch, loss in store.losses_every(run["id"]):
        writer.add_scalar("loss/batch", loss, step, walltime=clock.at(step))
        written += 1
    held_out = store.held_out_by_epoch(run["id"])
    for row in epochs:
        when = clock.at(row["step"])
        for tag, column in EPOCH_SCALARS.items():
            if finite(row.get(column)):
                writer.add_scalar(tag, row[column], row["step"], walltime=when)
                written += 1
        for label, acc in held_out.get(row["epoch"], {}).items():
            if finite(acc):
                writer.add_scalar(f"held_out/{_tag_safe(label)}", acc, row["step"], walltime=when)
            written += 1
    metrics = {tag: run[column] for tag, column in FINAL_METRICS.items() if finite(run.get(column))}
    if metrics:
        writer.add_hparams(_hparams(run), metrics, run_name=".")
        written += len(metrics)
    return written


def _hparams(run: dict[str, Any]) -> dict[str, Any]:
    """The config as TensorBoard takes hparams (numbers, strings, booleans), with the run's
    model, dataset, sweep and status; a list or a missing value as its JSON text."""
    config = run["config"] if isinstance(run["config"], dict) else json.loads(run["config"])
    values = {**config, "run_id": run["id"], "status": run["status"], "sweep": run.get("sweep") or ""}
    return {
        key: value if isinstance(value, (bool, int, float, str)) else json.dumps(value)
        for key, value in sorted(values.items())
    }


def _tag_safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._/-]", "_", label)
