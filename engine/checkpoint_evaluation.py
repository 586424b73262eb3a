"""`cifar-tui evaluate`: a finished run's checkpoint on held-out sets added later, its model
rebuilt from the recorded config (a model file from its recorded source)."""

from __future__ import annotations

from pathlib import Path

from .checkpoint import CheckpointError, load_checkpoint
from .device import resolve_device
from .events import Evaluated
from .held_out import evaluate_sets, prepare
from .models import build_model
from .train import scorer
from .train_step import cast_model
from .weight_average import evaluated_weights


def evaluate_checkpoint(
    run_id: int,
    config,
    classes: tuple[str, ...],
    test_acc: float,
    checkpoint_file: Path,
    eval_on: str,
    data_dir: Path,
    device_name: str = "auto",
) -> list[Evaluated]:
    """A finished run's held-out figures from its checkpoint (`cifar-tui evaluate`): the model
    rebuilt from the recorded config (a model file from its recorded source), evaluated as the
    run's last epoch was (its test-time augmentation)."""
    device = resolve_device(device_name)
    state = load_checkpoint(checkpoint_file, device, run_id)
    if state is None:
        raise CheckpointError(f"run {run_id} has no checkpoint to evaluate ({checkpoint_file} is missing)")
    model = build_model(config.model, len(classes), config.dropout, config.init, config.model_source).to(device)
    cast_model(model, config)  # a half run's weights, in the dtypes it trained in
    # With an average the run's test figures are the average's: so are the held-out sets'.
    model.load_state_dict(evaluated_weights(state))
    prepared = prepare(eval_on, classes, data_dir)
    events: list[Evaluated] = []
    evaluate_sets(
        prepared, scorer(model, len(classes), config), device, run_id, int(state["epoch"]), test_acc, events.append
    )
    return events
