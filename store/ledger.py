"""The ledger: each preset's published figure beside what its finished runs reached here.

A run counts as its preset's when it was made from it (its config records the preset) and no
recipe field changed: only the fields in FREE may differ (the seed, where and how fast it runs,
which held-out sets it is tested on). Runs are counted per dataset as they ran on it: the
official CIFAR-10 files, a copy that is not them (md5, the run's environment says), another
dataset; only the reference's own dataset on its official files is compared with the published
figure. A run tested on part of the test set is left out (its accuracy is of other images).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Any

from ..engine.config import RunConfig, make_config
from ..engine.presets import PRESET_LIST
from .confidence import p_differs, summarize

# Fields a run may change and stay its preset's: they do not change what it trains.
FREE = frozenset(
    {
        "seed",
        "device",
        "name",
        "preset",
        "model_source",
        "compile",
        "channels_last",
        "fused",
        "cudnn_benchmark",
        "deterministic",
        "eval_on",
        "eval_every_epoch",
        "limit_eval_batches",
        "dataset",  # counted per dataset instead
    }
)


def changed_fields(config: dict[str, Any], preset: str) -> list[str]:
    """The recipe fields in which a run's config is not its preset's."""
    return _changed(RunConfig.from_dict(config).to_dict(), preset)


def _changed(ran: dict[str, Any], preset: str) -> list[str]:
    recipe = _recipe(preset)
    return [name for name in recipe if name not in FREE and recipe[name] != ran[name]]


def recipe_preset(config: dict[str, Any]) -> str | None:
    """The preset with a published figure whose recipe a config is, on that figure's dataset (its
    recorded preset first; a recipe typed field by hand counts too), or None: what a group's
    reference row shows."""
    ran = RunConfig.from_dict(config).to_dict()
    recorded = [p for p in PRESET_LIST if p.name == ran["preset"]]
    for preset in (*recorded, *PRESET_LIST):
        reference = preset.reference
        if reference is None or ran["dataset"] != reference.dataset or ran["model"] != _recipe(preset.name)["model"]:
            continue
        if not _changed(ran, preset.name):
            return preset.name
    return None


@functools.cache
def _recipe(preset: str) -> dict[str, Any]:
    return make_config(preset).to_dict()  # once a preset, not once a run


def data_label(config: dict[str, Any], environment: dict[str, Any]) -> tuple[str, bool]:
    """(how the ledger names the data a run trained on, whether those are its dataset's official
    files as far as the run knows)."""
    files = environment.get("data_files") or ""
    if files.startswith("not the official"):
        return f"{config['dataset']} (not the official files)", False
    return config["dataset"], files.startswith("official") or not files


def ledger(db) -> list[dict[str, Any]]:
    """One row per preset and dataset its runs trained on (a row with n 0 for a preset with a
    reference and no runs): the published figure, n, mean and 95% CI, the difference, whether
    the published figure lies in the CI, the GPUs and the mean seconds, and what was left out."""
    rows = db.execute(
        "SELECT config, test_acc, seconds, eval_images, environment FROM runs "
        "WHERE status = 'finished' AND json_extract(config, '$.preset') IS NOT NULL "
        "AND json_extract(config, '$.preset') != ''"
    ).fetchall()
    runs: dict[str, list[tuple]] = {}
    for config_text, test_acc, seconds, eval_images, environment_text in rows:
        config = json.loads(config_text)
        runs.setdefault(config["preset"], []).append(
            (config, test_acc, seconds, eval_images, json.loads(environment_text or "{}"))
        )
    table = []
    for preset in PRESET_LIST:
        reference, counted, left_out = preset.reference, {}, Counter()
        for config, test_acc, seconds, eval_images, environment in runs.get(preset.name, []):
            if changed_fields(config, preset.name):
                left_out["a changed recipe field"] += 1
            elif eval_images or test_acc is None:
                left_out["part of the test set"] += 1
            else:
                label = data_label(config, environment)
                counted.setdefault(label, []).append((test_acc, seconds, environment.get("gpu") or "CPU"))
        if not counted and reference is None and not left_out:
            continue
        groups = counted.items() or {(preset.fields.get("dataset", ""), True): []}.items()
        for i, ((label, official), measured) in enumerate(groups):
            table.append(_row(preset.name, reference, label, official, measured, left_out if i == 0 else Counter()))
    return table


def _row(name, reference, label, official, measured, left_out) -> dict[str, Any]:
    accuracies = [acc for acc, _, _ in measured]
    stats = summarize(accuracies)
    comparable = reference is not None and official and label == reference.dataset and bool(measured)
    published = reference.accuracy if reference is not None else None
    inside = None
    if comparable and stats["ci_low"] is not None:
        inside = stats["ci_low"] <= published <= stats["ci_high"]
    seconds = [s for _, s, _ in measured if s is not None]
    return {
        "preset": name,
        "published": published,
        "source": reference.source if reference is not None else "",
        "data": label,
        "comparable": comparable,
        "n": len(measured),
        "mean": stats["mean"],
        "ci_low": stats["ci_low"],
        "ci_high": stats["ci_high"],
        "difference": stats["mean"] - published if comparable else None,
        "published_in_ci": inside,
        "p_value": p_differs(accuracies, published) if comparable else None,
        "gpus": sorted({gpu for _, _, gpu in measured}),
        "seconds": sum(seconds) / len(seconds) if seconds else None,
        "left_out": dict(left_out),
    }
