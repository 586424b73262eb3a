"""Sweeps: config values that are lists, ranges or intervals become many configs.

Written as a flag's value (`--lr 1e-3,3e-3`, `--seed 0..4`, `--lr 1e-4:1e-1` with `--random N`),
in the New form's fields, or in a TOML sweep file. The runs are the cross product of the lists
(seed varying fastest, so a group's runs are neighbours), or N points drawn at random.
"""

from __future__ import annotations

import itertools
import math
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import FIELD_TYPES, ConfigError, RunConfig, make_config

MAX_RUNS = 10_000  # one sweep; more is almost surely a typo in a range
SWEEP_OPTIONS = ("sweep", "preset", "random", "search", "trials", "prune", "objective", "parallel")
NEVER_SPLIT = ("name", "model_source", "eval_on")  # a label (and source text) may hold commas


@dataclass(frozen=True)
class Interval:
    """low:high of a number field (both > 0), sampled log-uniformly by --random."""

    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))


def parse_value(field: str, value: Any) -> Any:
    """A single value, a list of values, or an Interval, from what was typed (or read from TOML)."""
    if isinstance(value, list):
        if not value:
            raise ConfigError(field, "an empty list; give at least one value")
        return value
    if not isinstance(value, str) or field in NEVER_SPLIT:
        return value
    kind = FIELD_TYPES.get(field)
    text = value.strip()
    if kind is int and ".." in text:
        low, _, high = text.partition("..")
        try:
            low_i, high_i = int(low), int(high)
        except ValueError:
            raise ConfigError(field, f"a range is two whole numbers, like 0..4 (got {value!r})") from None
        if high_i < low_i:
            raise ConfigError(field, f"an empty range {value!r}; the first number comes first")
        if high_i - low_i >= MAX_RUNS:
            raise ConfigError(field, f"the range {value!r} has more than {MAX_RUNS} values")
        return list(range(low_i, high_i + 1))
    if kind is float and ":" in text:
        low, _, high = text.partition(":")
        try:
            interval = Interval(float(low), float(high))
        except ValueError:
            raise ConfigError(field, f"an interval is two numbers, like 1e-4:1e-1 (got {value!r})") from None
        if not interval.low < interval.high:
            raise ConfigError(field, f"an empty interval {value!r}; the smaller number comes first")
        if interval.low <= 0:
            raise ConfigError(field, f"an interval is drawn log-uniformly: both ends must be > 0 (got {value!r})")
        return interval
    if "," in text:
        parts = [part.strip() for part in text.split(",")]
        if not all(parts):
            raise ConfigError(field, f"an empty item in the list {value!r}")
        return parts
    return value


def is_sweep(values: dict[str, Any]) -> bool:
    return any(isinstance(v, (list, Interval)) for v in values.values())


def expand(
    values: dict[str, Any], preset: str | None = None, random_points: int | None = None, rng_seed: int | str = 0
) -> list[RunConfig]:
    """Every config of a sweep, validated; `values` hold parsed values (parse_value)."""
    axes = {k: v for k, v in values.items() if isinstance(v, (list, Interval))}
    fixed = {k: v for k, v in values.items() if k not in axes}
    if random_points is None:
        interval = next((k for k, v in axes.items() if isinstance(v, Interval)), None)
        if interval is not None:
            raise ConfigError(interval, "an interval is sampled: add --random N (or give a list of values)")
        names = sorted(axes, key=lambda k: k == "seed")  # seed last: it varies fastest
        count = math.prod(len(axes[k]) for k in names)
        if count > MAX_RUNS:
            raise ConfigError("sweep", f"{count:,} runs; at most {MAX_RUNS:,} in one sweep")
        points = [dict(zip(names, combo)) for combo in itertools.product(*(axes[k] for k in names))]
    else:
        points = draw(axes, random_points, random.Random(rng_seed))
    return [make_config(preset, **fixed, **point) for point in points]


def draw(axes: dict[str, Any], count: int, rng: random.Random) -> list[dict[str, Any]]:
    """count distinct points, each a cell of the lists' grid with every interval drawn afresh; a
    point drawn before is drawn again. One point after another: the first N points of a seed are
    the same whatever the count."""
    if not 1 <= count <= MAX_RUNS:
        raise ConfigError("random", f"must be between 1 and {MAX_RUNS} (got {count})")
    if not axes:
        raise ConfigError("random", "nothing to draw: give a list (--lr 1e-3,3e-3) or an interval (--lr 1e-4:1e-1)")
    lists = {k: v for k, v in axes.items() if isinstance(v, list)}
    grid = math.prod(len(v) for v in lists.values())
    if len(lists) == len(axes) and count > grid:
        raise ConfigError("random", f"cannot draw {count} distinct points from {grid}; give --random {grid} or fewer")
    points, seen = [], set()
    while len(points) < count:
        point = _cell(lists, rng.randrange(grid))
        point.update({k: v.sample(rng) for k, v in axes.items() if isinstance(v, Interval)})
        key = tuple(sorted(point.items()))
        if key not in seen:
            seen.add(key)
            points.append({k: point[k] for k in axes})
    return points


def _cell(lists: dict[str, list], index: int) -> dict[str, Any]:
    point = {}
    for name, values in lists.items():
        index, position = divmod(index, len(values))
        point[name] = values[position]
    return point


def load_sweep_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config values, sweep options) of a TOML sweep file.

    Config fields at the top level (a list, or a text range/interval, is an axis); the options
    `sweep` (its name), `preset` and `random` (N points) beside them, or a search's
    (`search`, `trials`, `prune`, `objective`, `parallel`).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError("sweep", f"cannot read {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError("sweep", f"{path} is not valid TOML: {error}") from None
    options = {key: data.pop(key) for key in SWEEP_OPTIONS if key in data}
    known = set(FIELD_TYPES)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            unknown[0], f"unknown field in {path.name}; allowed: {', '.join(SWEEP_OPTIONS)}, {', '.join(sorted(known))}"
        )
    return {key: parse_value(key, value) for key, value in data.items()}, options
