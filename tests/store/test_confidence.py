"""Group statistics against scipy.stats on known values and on the edge cases."""

import statistics

import pytest
from scipy import stats

from cifar_tui.store.confidence import difference, interval, p_above

SPEEDRUN = [94.05, 93.92, 94.11, 94.0, 93.97, 94.08, 93.89, 94.14, 94.02, 93.96]  # ten seeds, made up


@pytest.mark.parametrize("values", [SPEEDRUN, SPEEDRUN[:2], [1.0, 2.0, 4.0]])
def test_the_interval_and_the_p_value_are_scipys(values):
    mean, std, n = statistics.fmean(values), statistics.stdev(values), len(values)
    sem, low, high = interval(mean, std, n)
    assert sem == pytest.approx(stats.sem(values))
    assert (low, high) == pytest.approx(stats.t.interval(0.95, n - 1, loc=mean, scale=stats.sem(values)))
    expected = stats.ttest_1samp(values, 94.0, alternative="greater").pvalue
    assert p_above(mean, std, n, 94.0) == pytest.approx(expected)


def test_a_known_value_for_ten_runs():
    sem, low, high = interval(94.0, 0.15, 10)
    assert sem == pytest.approx(0.0474342, rel=1e-5) and high - 94.0 == pytest.approx(0.1073, abs=1e-4)  # t(9) = 2.262


def test_edge_cases_one_run_and_zero_variance():
    assert interval(94.0, None, 1) == (None, None, None) and p_above(94.0, None, 1, 93.0) is None
    assert interval(94.0, 0.0, 3) == (0.0, 94.0, 94.0)
    assert p_above(94.0, 0.0, 3, 93.0) is None  # t is undefined without variance


BASELINE = [93.80, 93.95, 93.72, 93.88, 93.91]  # made up


@pytest.mark.parametrize("other", [SPEEDRUN, SPEEDRUN[:2], [93.5, 94.5]])
def test_the_difference_of_two_groups_is_welchs_as_computed_by_hand(other):
    found = difference(BASELINE, other)
    va, vb, na, nb = statistics.variance(BASELINE), statistics.variance(other), len(BASELINE), len(other)
    se = (va / na + vb / nb) ** 0.5
    df = (va / na + vb / nb) ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))  # Welch-Satterthwaite
    diff = statistics.fmean(other) - statistics.fmean(BASELINE)
    half = stats.t.ppf(0.975, df) * se
    assert found["diff"] == pytest.approx(diff)
    assert (found["ci_low"], found["ci_high"]) == pytest.approx((diff - half, diff + half))
    assert found["p_value"] == pytest.approx(2 * stats.t.sf(abs(diff) / se, df))


def test_the_difference_edge_cases_one_run_and_zero_variance():
    assert difference(BASELINE, [94.0]) is None and difference([94.0], BASELINE) is None
    assert difference([94.0, 94.0], [94.5, 94.5]) == {"diff": 0.5, "ci_low": None, "ci_high": None, "p_value": None}
    one_sided_spread = difference([94.0, 94.0], [94.2, 94.6])
    assert one_sided_spread["p_value"] == pytest.approx(
        stats.ttest_ind([94.2, 94.6], [94.0, 94.0], equal_var=False).pvalue
    )
