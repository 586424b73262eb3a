"""A search (a study): a sweep whose next points come from Optuna's samplers and whose losing
trials Optuna's pruners stop at an epoch's end.

The store stays the one truth of what ran. Optuna's study is rebuilt in memory from the study's
row and its trials' runs each time a point is proposed or an epoch judged (milliseconds for
hundreds of trials), so a deleted, resumed or interrupted run never disagrees with a second
record of it. What a sampler or pruner keeps about a trial (its grid cell, the rungs it passed)
is saved with the run (runs.trial_attrs) and handed back at each rebuild.

Proposals are made inside the queue's claim transaction (store/runs.py): whichever worker,
pool member or dispatcher claims next keeps K trials queued or running, and no two propose
the same trial. Optuna is imported only when a search needs it.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..engine.config import ConfigError, make_config
from .columns import better, eval_sql, objectives

SEARCHES = ("tpe", "random", "grid", "nsga2")
PRUNERS = ("none", "median", "asha", "hyperband")
OBJECTIVES = objectives()  # the command line's choices (tui/cli/queue.py); the rest asks objectives() itself
IN_FLIGHT = ("queued", "running")


@dataclass(frozen=True)
class StudySettings:
    search: str = "tpe"
    trials: int = 20
    prune: str = "none"
    objective: str = "test_acc"
    parallel: int = 1  # trials queued or running at once
    seed: int = 0

    def checked(self) -> StudySettings:
        for field in ("trials", "parallel", "seed"):  # a sweep file may hold any TOML value
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(field, f"a whole number (got {value!r})")
        for field, value, allowed in (("search", self.search, SEARCHES), ("prune", self.prune, PRUNERS)):
            if value not in allowed:
                raise ConfigError(field, f"{value!r} is not one of {', '.join(allowed)}")
        names = objective_names(self.objective)
        if len(names) == 1 and names[0] not in objectives():
            raise ConfigError(
                "objective", f"{self.objective!r} is not one of {', '.join(objectives())} (or several, comma-separated)"
            )
        for name in names if len(names) > 1 else ():
            if better(name) is None:
                raise ConfigError(
                    "objective", f"{name!r} is no result column (test_acc, seconds, test_loss, cifar10.1_acc, …)"
                )
        if len(names) != len(set(names)):
            raise ConfigError("objective", f"{self.objective!r} names an objective twice")
        if len(names) > 1 and self.prune != "none":
            raise ConfigError("prune", "Optuna cannot prune a search of several objectives; leave out --prune")
        if not 1 <= self.trials <= 10_000:
            raise ConfigError("trials", f"must be between 1 and 10000 (got {self.trials})")
        if not 1 <= self.parallel <= 1_000:
            raise ConfigError("parallel", f"must be between 1 and 1000 (got {self.parallel})")
        return self


def objective_names(objective: str) -> list[str]:
    """A study's objectives: one name, or several comma-separated (test_acc,seconds)."""
    return [name.strip() for name in str(objective).split(",") if name.strip()]


def _objective_sql(name: str) -> str:
    """A run's value of an objective in SQL: its column, or a held-out set's figure."""
    if name in objectives() or better(name) is not None and eval_sql(name) is None:
        return name  # a run column (checked against the declared ones before it reaches SQL)
    return eval_sql(name)


def search_space(values: dict[str, Any], preset: str | None) -> tuple[dict[str, dict], dict[str, Any]]:
    """(space, fixed) from a sweep's parsed values (engine/sweep.parse_value): a list is a set of
    choices (typed as the config types them), an interval a log-uniform range; the rest is fixed.
    Every choice and both ends of every range are checked as configs."""
    from ..engine.sweep import Interval

    fixed = {k: v for k, v in values.items() if not isinstance(v, (list, Interval))}
    space: dict[str, dict] = {}
    for field, value in values.items():
        if isinstance(value, Interval):
            for end in (value.low, value.high):
                make_config(preset, **fixed, **{field: end})
            space[field] = {"low": value.low, "high": value.high}
        elif isinstance(value, list):
            choices = [getattr(make_config(preset, **fixed, **{field: choice}), field) for choice in value]
            space[field] = {"choices": list(dict.fromkeys(choices))}
    if not space:
        raise ConfigError("search", "nothing to search: give a list (--lr 1e-3,3e-3) or an interval (--lr 1e-4:1e-1)")
    return space, fixed


def grid_size(space: dict[str, dict]) -> int | None:
    if any("choices" not in axis for axis in space.values()):
        return None
    return math.prod(len(axis["choices"]) for axis in space.values())


def check_grid(settings: StudySettings, space: dict[str, dict]) -> None:
    if settings.search != "grid":
        return
    size = grid_size(space)
    if size is None:
        interval = next(k for k, axis in space.items() if "choices" not in axis)
        raise ConfigError(interval, "a grid search takes lists of values, not an interval")
    if settings.trials > size:
        raise ConfigError("trials", f"the grid has {size} points; give --trials {size} or fewer")


def create(db, name: str, settings: StudySettings, space: dict, fixed: dict, preset: str | None, stamp: str) -> None:
    """The study's row, inside the caller's write transaction."""
    db.execute(
        """INSERT INTO studies (name, search, trials, prune, objective, parallel, seed, preset, space, fixed,
                                created_at) VALUES (:name, :search, :trials, :prune, :objective, :parallel, :seed,
                                :preset, :space, :fixed, :created_at)""",
        {
            "name": name,
            **asdict(settings),
            "preset": preset,
            "space": json.dumps(space),
            "fixed": json.dumps(fixed),
            "created_at": stamp,
        },
    )


def unfinished(db) -> bool:
    """Whether some search has trials left to propose."""
    return (
        db.execute(
            """SELECT 1 FROM studies s WHERE s.trials >
               (SELECT count(*) FROM runs r WHERE r.sweep = s.name AND r.trial IS NOT NULL) LIMIT 1"""
        ).fetchone()
        is not None
    )


def open_studies(db) -> list[str]:
    """Studies that may want a trial now: fewer trials than asked, fewer in flight than K. One
    query, so that a claim with no search open costs nothing more."""
    return [
        row[0]
        for row in db.execute(
            """SELECT s.name FROM studies s
               WHERE (SELECT count(*) FROM runs r WHERE r.sweep = s.name AND r.trial IS NOT NULL) < s.trials
               AND (SELECT count(*) FROM runs r WHERE r.sweep = s.name AND r.trial IS NOT NULL
                    AND r.status IN ('queued', 'running')) < s.parallel"""
        )
    ]


def top_up(db, name: str, insert: Callable[[dict[str, Any], str], int]) -> list[int]:
    """Propose and queue trials of the study until K are queued or running (or all N were
    proposed); inside the caller's write transaction. insert(config, study) queues one run."""
    row = _study_row(db, name)
    if row is None:
        return []
    trials = _trials(db, name)
    made = len(trials)
    in_flight = sum(t["status"] in IN_FLIGHT for t in trials)
    room = min(row["parallel"] - in_flight, row["trials"] - made)
    if room <= 0:
        return []
    study, distributions = _rebuild(row, trials, seed_offset=made)
    space = json.loads(row["space"])
    ids = []
    # The store's numbers, not Optuna's (its position in the rebuilt study): a deleted trial
    # never makes a later one take its number.
    first = max((t["number"] for t in trials), default=-1) + 1
    for number in range(first, first + room):
        trial = study.ask(distributions)
        point = {k: readable(v, space[k]) if "low" in space[k] else v for k, v in trial.params.items()}
        config = make_config(row["preset"], **json.loads(row["fixed"]), **point).to_dict()
        run_id = insert(config, name)
        attrs = study._storage.get_trial(trial._trial_id).system_attrs
        db.execute("UPDATE runs SET trial = ?, trial_attrs = ? WHERE id = ?", [number, json.dumps(attrs), run_id])
        ids.append(run_id)
    return ids


def readable(value: float, axis: dict[str, float]) -> float:
    """A point drawn from a range, to 3 significant digits (0.00347, not 0.0034711918531798):
    what a person would type, inside the range."""
    return min(axis["high"], max(axis["low"], float(f"{value:.3g}")))


def judge(db, run_id: int, values: dict[int, float]) -> bool:
    """Should this trial go on after its newest epoch? values: the objective at each epoch so far
    (the newest may not be recorded yet). False means its pruner stops it. The pruner's notes on
    the trial are saved with the run, inside the caller's write transaction."""
    run = db.execute("SELECT sweep, trial FROM runs WHERE id = ?", [run_id]).fetchone()
    if run is None or run[1] is None:
        return True
    row = _study_row(db, run[0])
    if row is None or row["prune"] == "none" or not values:
        return True
    trials = _trials(db, run[0])
    for trial in trials:
        if trial["id"] == run_id:
            trial["status"], trial["values"] = "running", {**trial["values"], **values}
    study, _ = _rebuild(row, trials, seed_offset=len(trials))
    current = next(t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("run_id") == run_id)
    go_on = not study.pruner.prune(study, current)
    attrs = study._storage.get_trial(current._trial_id).system_attrs
    db.execute("UPDATE runs SET trial_attrs = ? WHERE id = ?", [json.dumps(attrs), run_id])
    return go_on


def warm_up() -> None:
    """Import Optuna now (a third of a second), not while holding the store's write lock."""
    import optuna  # noqa: F401


def objective_of(db, run_id: int) -> str | None:
    """The objective of the search this run is a trial of; None for any other run."""
    row = db.execute(
        "SELECT s.objective FROM runs r JOIN studies s ON s.name = r.sweep WHERE r.id = ? AND r.trial IS NOT NULL",
        [run_id],
    ).fetchone()
    return None if row is None else row[0]


def settings_of(db, name: str) -> dict[str, Any] | None:
    """A study's row, its space and fixed values parsed; None when `name` is a plain sweep."""
    row = _study_row(db, name)
    if row is not None:
        row["space"], row["fixed"] = json.loads(row["space"]), json.loads(row["fixed"])
    return row


def progress(db, names: list[str] | None = None) -> list[dict[str, Any]]:
    """Each study's trials by status and its best objective so far, newest study first (in SQL:
    the Runs tab asks every few seconds)."""
    where = f"WHERE s.name IN ({', '.join('?' * len(names))})" if names else ""
    cursor = db.execute(
        f"""SELECT s.name, s.search, s.prune, s.objective, s.trials, count(r.id) AS proposed,
                   {", ".join(f"coalesce(sum(r.status = '{k}'), 0) AS {k}" for k in ("finished", "pruned", *IN_FLIGHT))}
            FROM studies s LEFT JOIN runs r ON r.sweep = s.name AND r.trial IS NOT NULL {where}
            GROUP BY s.name ORDER BY s.created_at DESC, s.name""",
        names or [],
    )
    rows = [dict(zip([d[0] for d in cursor.description], values)) for values in cursor.fetchall()]
    for row in rows:
        objective = row["objective"]
        row["front"] = None
        if objective not in objectives():  # several objectives: no one best, a front (store/pareto.py)
            from .pareto import pareto_front

            ended = [t["value"] for t in _trials(db, row["name"]) if t["status"] == "finished" and _numbers(t["value"])]
            directions = [better(n) for n in objective_names(objective)]
            row["best_run"], row["best"], row["front"] = None, None, len(pareto_front(ended, directions))
            continue
        order = "DESC" if objectives()[objective] == "maximize" else "ASC"
        best = db.execute(
            f"""SELECT id, {objective} FROM runs WHERE sweep = ? AND trial IS NOT NULL AND status = 'finished'
                AND {objective} IS NOT NULL ORDER BY {objective} {order} LIMIT 1""",
            [row["name"]],
        ).fetchone()
        row["best_run"], row["best"] = best if best else (None, None)
    return rows


def best_so_far(db, name: str) -> list[tuple[int, float]]:
    """(trial number, the best finished objective up to it): the study's progress curve."""
    row = _study_row(db, name)
    if row is None or row["objective"] not in objectives():  # several objectives have no one best
        return []
    pick = max if objectives()[row["objective"]] == "maximize" else min
    curve, best = [], None
    for trial in _trials(db, name):
        if trial["status"] == "finished" and _numbers(trial["value"]):
            best = trial["value"] if best is None else pick(best, trial["value"])
            curve.append((trial["number"], best))
    return curve


def outcomes(db, name: str) -> list[dict[str, Any]]:
    """Each ended trial's point (its searched fields' values) and objective: a finished trial's
    final value, a pruned one's last recorded value; in proposal order."""
    row = _study_row(db, name)
    if row is None:
        return []
    fields = list(json.loads(row["space"]))
    points = []
    for trial in _trials(db, name):
        if trial["status"] == "finished" and _numbers(trial["value"]):
            value = trial["value"]
        elif trial["status"] == "pruned" and trial["values"]:
            value = trial["values"][max(trial["values"])]
        else:
            continue
        point = {field: trial["config"].get(field) for field in fields}
        first = value[0] if isinstance(value, list) else value  # several objectives: the charts show the first
        points.append({"number": trial["number"], "status": trial["status"], "point": point, "value": first,
                       "values": _as_list(value)})  # fmt: skip
    return points


def _study_row(db, name: str) -> dict[str, Any] | None:
    cursor = db.execute("SELECT * FROM studies WHERE name = ?", [name])
    values = cursor.fetchone()
    return None if values is None else dict(zip([d[0] for d in cursor.description], values))


def _trials(db, name: str) -> list[dict[str, Any]]:
    """The study's trials in proposal order: run id, number, status, config, final objective,
    the objective at each recorded epoch, and the sampler's and pruner's notes."""
    objective = db.execute("SELECT objective FROM studies WHERE name = ?", [name]).fetchone()[0]
    names = objective_names(objective)
    assert all(better(n) is not None for n in names)  # declared columns' names, put in the SQL below
    finals = ", ".join(_objective_sql(n) for n in names)
    rows = db.execute(
        f"""SELECT id, trial, status, config, trial_attrs, {finals} FROM runs
            WHERE sweep = ? AND trial IS NOT NULL ORDER BY trial, id""",
        [name],
    ).fetchall()
    values: dict[int, dict[int, float]] = {}
    if len(names) == 1:  # several objectives are never pruned: no epoch's value is asked for
        for run_id, epoch, value in db.execute(
            f"""SELECT run_id, epoch, {objective} FROM epochs
                WHERE run_id IN (SELECT id FROM runs WHERE sweep = ? AND trial IS NOT NULL)""",
            [name],
        ):
            if _number(value):
                values.setdefault(run_id, {})[epoch] = value
    return [
        {
            "id": run_id,
            "number": number,
            "status": status,
            "config": json.loads(config),
            "value": finals[0] if len(finals) == 1 else list(finals),
            "values": values.get(run_id, {}),
            "attrs": json.loads(attrs or "{}"),
        }
        for run_id, number, status, config, attrs, *finals in rows
    ]


def optuna_distributions(space: dict[str, dict]) -> dict[str, Any]:
    """A search's space as Optuna's distributions: a list of choices categorical, an interval
    log-uniform (store/study.search_space)."""
    import optuna

    return {
        field: optuna.distributions.CategoricalDistribution(axis["choices"])
        if "choices" in axis
        else optuna.distributions.FloatDistribution(axis["low"], axis["high"], log=True)
        for field, axis in space.items()
    }


def _rebuild(row: dict[str, Any], trials: list[dict[str, Any]], seed_offset: int):
    """Optuna's study as the store records it: finished trials complete (their final objective),
    pruned ones pruned, queued and running ones running, the rest failed."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, fixed = json.loads(row["space"]), json.loads(row["fixed"])
    distributions = optuna_distributions(space)
    # A sampler is made afresh at each rebuild: its seed moves on with the study, or a seeded
    # sampler would propose its first point again and again. Not the grid's: its seed shuffles
    # the grid, and trial n takes cell n of that one order.
    seed = zlib.crc32(f"{row['name']}/{row['seed']}/{seed_offset}".encode())
    grid_seed = zlib.crc32(f"{row['name']}/{row['seed']}".encode())
    sampler = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed, constant_liar=True),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
        "grid": lambda: optuna.samplers.GridSampler({k: a["choices"] for k, a in space.items()}, seed=grid_seed),
    }[row["search"]]()
    epochs = max(space["epochs"]["choices"]) if "epochs" in space else make_config(row["preset"], **fixed).epochs
    pruner = {
        "none": optuna.pruners.NopPruner,
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
        "asha": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=int(epochs)),
    }[row["prune"]]()
    directions = [better(n) for n in objective_names(row["objective"])]
    study = optuna.create_study(study_name=row["name"], directions=directions, sampler=sampler, pruner=pruner)
    frozen = []
    for trial in trials:
        params = {field: trial["config"].get(field) for field in distributions}
        if not all(_fits(distributions[field], value) for field, value in params.items()):
            params = {}  # a trial whose config no longer fits the space (edited by hand): its values only
        state = {
            "finished": TrialState.COMPLETE,
            "pruned": TrialState.PRUNED,
            "queued": TrialState.RUNNING,
            "running": TrialState.RUNNING,
        }.get(trial["status"], TrialState.FAIL)
        if state == TrialState.COMPLETE and not _numbers(trial["value"]):
            state = TrialState.FAIL
        frozen.append(
            create_trial(
                state=state,
                values=_as_list(trial["value"]) if state == TrialState.COMPLETE else None,
                params=params,
                distributions={f: distributions[f] for f in params},
                intermediate_values=trial["values"],
                user_attrs={"run_id": trial["id"]},
                system_attrs=trial["attrs"],
            )
        )
    study.add_trials(frozen)
    return study, distributions


def export_study(db, name: str, storage: Any) -> int:
    """The search as an Optuna study in storage (an Optuna storage object or URL), for
    optuna-dashboard and Optuna's own plots and importances: its distributions, each trial with
    its params, objective, intermediate values per epoch and state (finished complete, pruned
    pruned, queued waiting, running running, the rest failed), the run id as a user attribute. A
    study of that name there is replaced. The number of trials written."""
    import optuna
    from optuna.trial import TrialState

    row = _study_row(db, name)
    if row is None:
        known = ", ".join(r[0] for r in db.execute("SELECT name FROM studies ORDER BY name")) or "none yet"
        raise ConfigError("search", f"no search named {name!r} (searches: {known})")
    trials = _trials(db, name)
    study, _ = _rebuild(row, trials, seed_offset=0)
    try:
        optuna.delete_study(study_name=name, storage=storage)
    except KeyError:
        pass  # none yet
    target = optuna.create_study(storage=storage, study_name=name, directions=study.directions)
    for key in ("search", "prune", "objective", "trials", "parallel", "seed", "preset"):
        target.set_user_attr(f"cifar-tui:{key}", row[key])
    copied = []
    for frozen, trial in zip(study.get_trials(deepcopy=True), trials):
        if trial["status"] == "queued":
            frozen.state, frozen.datetime_start = TrialState.WAITING, None
        copied.append(frozen)
    target.add_trials(copied)
    return len(copied)


def _fits(distribution, value: Any) -> bool:
    try:
        return distribution._contains(distribution.to_internal_repr(value))
    except (ValueError, TypeError):
        return False


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _numbers(value: Any) -> bool:
    """A trial's final value (or each of its values, with several objectives) is a finite number."""
    return all(map(_number, _as_list(value)))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]
