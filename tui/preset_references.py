"""The presets with what their sources report, as the README's table (and `cifar-tui presets`
later): one row a preset, from engine/presets.py's declarations."""

from __future__ import annotations

from ..engine.config import make_config
from ..engine.presets import PRESET_LIST, Reference

HEADER = ("preset", "model", "recipe", "published test accuracy", "source", "where this recipe differs")


def recipe_words(name: str) -> str:
    c = make_config(name)
    schedule = c.lr_schedule + (f" {c.lr_milestones} x{c.lr_gamma:g}" if c.lr_schedule == "multistep" else "")
    words = (
        f"{c.optimizer}{' nesterov' if c.nesterov else ''} lr {c.lr:.3g}, wd {c.weight_decay:.3g}, "
        f"batch {c.batch_size}, {c.epochs} epochs, {schedule}"
    )
    return words + (f", warm-up {c.warmup_epochs:g} epoch" if c.warmup_epochs else "")


def published_words(reference: Reference | None) -> str:
    if reference is None:
        return "none"
    words = f"{reference.accuracy:.2f}%" + (f" ({reference.spread})" if reference.spread else "")
    return words + (f", {reference.seconds:g} s on an {reference.gpu}" if reference.seconds else "")


def markdown_table() -> str:
    rows = ["| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    for preset in PRESET_LIST:
        reference = preset.reference
        cells = (
            f"`{preset.name}`",
            make_config(preset.name).model,
            recipe_words(preset.name),
            published_words(reference),
            reference.source if reference else "",
            reference.differs if reference else "",
        )
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
