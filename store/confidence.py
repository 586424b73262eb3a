"""What a reviewer asks of a group's figures besides mean ± std: the standard error, a 95%
confidence interval (Student's t), a one-sided one-sample t-test of mean > a target (the way
speedrun records are claimed), and whether two groups differ (Welch's t-test). All from a group's mean, sample std and n, with scipy's t
distribution, imported only when a statistic is computed, so that start-up stays fast.

Edge cases: below two runs there is no spread (std, standard error, interval and p are None);
with zero variance the interval is the mean itself and p is None (the t statistic is undefined).
"""

from __future__ import annotations

import math
import statistics
from functools import lru_cache

CONFIDENCE = 0.95


@lru_cache(maxsize=1024)
def _t_quantile(df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf((1 + CONFIDENCE) / 2, df))


def interval(mean: float | None, std: float | None, n: int | None) -> tuple[float | None, ...]:
    """(standard error, CI low, CI high) of a mean over n runs; Nones below two runs."""
    if mean is None or std is None or not n or n < 2:
        return None, None, None
    sem = std / math.sqrt(n)
    half = _t_quantile(n - 1) * sem
    return sem, mean - half, mean + half


def summarize(values: list[float]) -> dict[str, float | None]:
    """mean, std, sem, ci_low and ci_high of values (a group's keys without the measure's name)."""
    mean = sum(values) / len(values) if values else None
    std = statistics.stdev(values) if len(values) > 1 else None
    return dict(zip(("mean", "std", "sem", "ci_low", "ci_high"), (mean, std, *interval(mean, std, len(values)))))


def p_above(mean: float | None, std: float | None, n: int | None, target: float) -> float | None:
    """The p-value of a one-sided one-sample t-test of mean > target (scipy's ttest_1samp with
    alternative="greater", from the summary); None below two runs or without variance."""
    if mean is None or std is None or not n or n < 2 or std == 0:
        return None
    from scipy import stats

    return float(stats.t.sf((mean - target) / (std / math.sqrt(n)), n - 1))


def p_differs(values: list[float], target: float) -> float | None:
    """The two-sided p-value of a one-sample t-test of mean = target (scipy's ttest_1samp): below
    0.05 exactly when the target lies outside the 95% interval. None below two values or without
    variance."""
    if len(values) < 2 or len(set(values)) == 1:
        return None
    from scipy import stats

    return float(stats.ttest_1samp(values, target).pvalue)


def difference(first: list[float], other: list[float]) -> dict[str, float | None] | None:
    """other's mean minus first's, the difference's 95% confidence interval and Welch's two-sided
    p-value (scipy's ttest_ind with equal_var=False); None below two values on either side. With
    no variance on either side the difference stands alone (interval and p None)."""
    if len(first) < 2 or len(other) < 2:
        return None
    diff = sum(other) / len(other) - sum(first) / len(first)
    if len(set(first)) == 1 and len(set(other)) == 1:
        return {"diff": diff, "ci_low": None, "ci_high": None, "p_value": None}
    from scipy import stats

    result = stats.ttest_ind(other, first, equal_var=False)
    low, high = result.confidence_interval(CONFIDENCE)
    return {"diff": diff, "ci_low": float(low), "ci_high": float(high), "p_value": float(result.pvalue)}
