"""Which config fields mattered: each varying field's importance for a result column over the
finished runs a filter keeps, by Optuna's own evaluators (fANOVA; PED-ANOVA) on a study built
in memory from those runs, so a plain sweep is read as a search is.

A field's distribution is the search's own where every run is a trial of one search (a list of
choices categorical, an interval log-uniform: store/study.py); for a sweep it follows from the
values taken: numbers ordered (integers as integers), on a log scale when all are positive and
span ten times or more (as a learning rate or a weight decay is swept); anything else
categorical. A field with one value among the runs says nothing and is left out."""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from typing import Any

from ..engine.config import RunConfig
from .columns import better, eval_columns

EVALUATORS = ("fanova", "ped-anova")
EXTRA = "pip install 'cifar-tui[importance]'"
NOT_FIELDS = ("name", "preset", "model_source")  # a run's identity, not a choice that could matter
FEWEST = 3  # finished runs with a value, below which nothing is computed
LOG_SPAN = 10  # a positive numeric field spanning this many times is read on a log scale


class ImportanceError(ValueError):
    """The request cannot be answered (one line for the user)."""


@dataclass(frozen=True)
class Importance:
    objective: str
    evaluator: str
    fields: dict[str, float]  # field -> importance (summing to 1), the largest first
    scales: dict[str, str]  # field -> how it was read: "log", "linear", "integer", "categorical"
    used: int  # finished runs with a value of the objective
    left_out: int  # runs the filter keeps that are not (unfinished, or without the value)
    note: str  # "" or why the figure is only a hint


def importance(store, filter_text: str, objective: str = "test_acc", evaluator: str = "fanova", seed: int = 0):
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator
    from optuna.trial import TrialState, create_trial

    direction = better(objective)
    if direction is None:
        raise ImportanceError(
            f"objective: {objective!r} is no result column (test_acc, test_loss, seconds, cifar10.1_acc, …)"
        )
    if evaluator not in EVALUATORS:
        raise ImportanceError(f"evaluator: {evaluator!r} is not one of {', '.join(EVALUATORS)}")
    runs = store.find(filter_text, sort="+id")
    values = {r["id"]: value_of(r, objective) for r in runs if r["status"] == "finished"}
    values = {run_id: v for run_id, v in values.items() if v is not None and math.isfinite(v)}
    if len(values) < FEWEST:
        raise ImportanceError(
            f"importance: {len(values)} finished runs with a {objective} of {len(runs)} the filter keeps; "
            f"it takes {FEWEST} at least (more for a figure that means anything)"
        )
    configs = filled_configs(store, list(values))
    fields = [f for f in store.varying_fields(filter_text) if f not in NOT_FIELDS]
    distributions = field_distributions(store, runs, fields, configs)
    if not distributions:
        raise ImportanceError(f"importance: the {len(values)} finished runs share every config field; nothing varies")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction)
    study.add_trials(
        [
            create_trial(
                state=TrialState.COMPLETE,
                value=values[run_id],
                params={f: param(configs[run_id][f], d) for f, d in distributions.items()},
                distributions=distributions,
            )
            for run_id in sorted(values)
        ]
    )
    if evaluator == "fanova" and importlib.util.find_spec("sklearn") is None:  # Optuna's fANOVA fits sklearn's forests
        raise ImportanceError(f"importance: Optuna's fANOVA needs scikit-learn; {EXTRA} (or --evaluator ped-anova)")
    judge = FanovaImportanceEvaluator(seed=seed) if evaluator == "fanova" else PedAnovaImportanceEvaluator()
    try:
        found = optuna.importance.get_param_importances(study, evaluator=judge, normalize=True)
    except (ValueError, RuntimeError) as error:  # Optuna's refusal (too few trials for PED-ANOVA's quantile)
        raise ImportanceError(f"importance: Optuna's {evaluator} refused these runs: {error}") from None
    few = max(10, 2 * len(distributions))
    note = (
        f"only {len(values)} finished runs for {len(distributions)} field{'s' * (len(distributions) != 1)}: "
        f"a hint, not a finding ({few} or more say more)"
        if len(values) < few
        else ""
    )
    return Importance(
        objective, evaluator, dict(found), {f: scale(d) for f, d in distributions.items()},
        len(values), len(runs) - len(values), note,
    )  # fmt: skip


def filled_configs(store, run_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The runs' configs, a field recorded before it existed at its default."""
    defaults = RunConfig().to_dict()
    return {run_id: defaults | config for run_id, config in store.configs(run_ids).items()}


def value_of(run: dict[str, Any], objective: str) -> float | None:
    if objective in run:
        return run[objective]
    return eval_columns(run.get("evals")).get(objective)


def field_distributions(store, runs: list[dict[str, Any]], fields: list[str], configs: dict[int, dict]) -> dict:
    """Each varying field's Optuna distribution over these runs (the module's docstring says how)."""
    return _search_distributions(store, runs, fields) or _sweep_distributions(configs, fields)


def _search_distributions(store, runs: list[dict[str, Any]], fields: list[str]) -> dict[str, Any] | None:
    """The search's own distributions where every run is a trial of one search (fields outside
    its space that vary as well are read as a sweep's would be: None here)."""
    from .study import optuna_distributions

    sweeps = {r["sweep"] for r in runs}
    if len(sweeps) != 1 or None in sweeps:
        return None
    (outside,) = store.db.execute(
        "SELECT count(*) FROM runs WHERE id IN (SELECT value FROM json_each(?)) AND trial IS NULL",
        [json.dumps([r["id"] for r in runs])],
    ).fetchone()
    if outside:  # a run of the filter's that is no trial (queued into the search's sweep by hand)
        return None
    row = store.db.execute("SELECT space FROM studies WHERE name = ?", [next(iter(sweeps))]).fetchone()
    if row is None:
        return None
    space = json.loads(row[0])
    if set(fields) - set(space):
        return None
    return optuna_distributions({f: a for f, a in space.items() if f in fields})


def _sweep_distributions(configs: dict[int, dict[str, Any]], fields: list[str]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    distributions = {}
    for field in fields:
        taken = [config.get(field) for config in configs.values()]
        distinct = {json.dumps(v, sort_keys=True) for v in taken}
        if len(distinct) < 2:
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in taken):
            low, high = min(taken), max(taken)
            log = low > 0 and high / low >= LOG_SPAN
            if all(isinstance(v, int) for v in taken):
                distributions[field] = IntDistribution(int(low), int(high), log=log)
            else:
                distributions[field] = FloatDistribution(float(low), float(high), log=log)
        else:
            distributions[field] = CategoricalDistribution(sorted(distinct))
    return distributions


def param(value: Any, distribution) -> Any:
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution) and all(isinstance(c, str) for c in distribution.choices):
        text = json.dumps(value, sort_keys=True)
        return text if text in distribution.choices else value  # a sweep's values (JSON text), or a search's own
    return value


def scale(distribution) -> str:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return "categorical"
    if distribution.log:
        return "log"
    return "integer" if isinstance(distribution, IntDistribution) else "linear"
