"""The presets with what their sources report, as the README's table, and the ledger's rows as
`cifar-tui presets` and the app's ledger screen show them."""

from __future__ import annotations

from typing import Any

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


def ledger_cells(row: dict[str, Any]) -> dict[str, str]:
    """A ledger row (store/ledger.py) as the words of a table's cells."""

    def pct(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    measured = pct(row["mean"])
    if row["ci_low"] is not None:
        measured += f" [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    if row["n"] and not row["comparable"] and row["published"] is not None:
        measured += " (not compared: other data)"
    inside = {True: "yes", False: "no", None: ""}[row["published_in_ci"]]
    left_out = ", ".join(
        f"{count} on {why}" if why.startswith("part") else f"{count} with {why}"
        for why, count in row["left_out"].items()
    )
    return {
        "preset": row["preset"],
        "published %": pct(row["published"]),
        "data": row["data"],
        "n": str(row["n"]),
        "here % [95% CI]": measured,
        "diff": "" if row["difference"] is None else f"{row['difference']:+.2f}",
        "in CI": inside,
        "GPU": ", ".join(gpu.removeprefix("NVIDIA ") for gpu in row["gpus"]),
        "s": "" if row["seconds"] is None else f"{row['seconds']:,.0f}",
        "left out": left_out,
    }
