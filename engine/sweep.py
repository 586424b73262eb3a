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

from engine.config import FIELD_TYPES, ConfigError, RunConfig, make_config

MAX_RUNS = 10_000  # one sweep; more is almost surely a typo in a range
NEVER_SPLIT = ("name", "model_source")  # a label (and source text) may hold commas


@dataclass(frozen=True)
class Interval:
    """low:high of a number field, sampled log-uniformly (uniformly when low <= 0) by --random."""

    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        if self.low > 0:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)


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
        if not 1 <= random_points <= MAX_RUNS:
            raise ConfigError("random", f"must be between 1 and {MAX_RUNS} (got {random_points})")
        rng = random.Random(rng_seed)
        points = [
            {k: v.sample(rng) if isinstance(v, Interval) else rng.choice(v) for k, v in axes.items()}
            for _ in range(random_points)
        ]
    return [make_config(preset, **fixed, **point) for point in points]


def load_sweep_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config values, sweep options) of a TOML sweep file.

    Config fields at the top level (a list, or a text range/interval, is an axis); the options
    `sweep` (its name), `preset` and `random` (N points) beside them.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError("sweep", f"cannot read {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError("sweep", f"{path} is not valid TOML: {error}") from None
    options = {key: data.pop(key) for key in ("sweep", "preset", "random") if key in data}
    known = set(FIELD_TYPES)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            unknown[0], f"unknown field in {path.name}; allowed: sweep, preset, random, {', '.join(sorted(known))}"
        )
    return {key: parse_value(key, value) for key, value in data.items()}, options
