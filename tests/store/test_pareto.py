"""store/pareto.py's front against a by-hand one: ties, duplicates, missing values, three objectives."""

import itertools
import random

import pytest

from cifar_tui.store.pareto import pareto_front


def by_hand(points, directions):
    signs = [1 if d == "maximize" else -1 for d in directions]

    def beats(a, b):
        a, b = [s * x for s, x in zip(signs, a)], [s * x for s, x in zip(signs, b)]
        return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))

    usable = [i for i, p in enumerate(points) if all(v is not None and v == v for v in p)]
    return [i for i in usable if not any(beats(points[j], points[i]) for j in usable)]


def test_accuracy_against_seconds_with_ties():
    points = [(90, 10), (91, 20), (89, 5), (90, 10), (85, 30), (91, 15), (91, 15), (80, 5)]
    # (90, 10) twice and (91, 15) twice: equal points are both on it; (80, 5) loses to (89, 5).
    assert pareto_front(points, ["maximize", "minimize"]) == [0, 2, 3, 5, 6]


def test_missing_values_are_on_no_front():
    assert pareto_front([(90, None), (float("nan"), 1), (50, 100)], ["maximize", "minimize"]) == [2]


@pytest.mark.parametrize("seed", range(20))
def test_random_sets_match_the_by_hand_front(seed):
    rng = random.Random(seed)
    directions = rng.choice(list(itertools.product(["maximize", "minimize"], repeat=rng.choice([2, 3]))))
    points = [tuple(rng.randint(0, 6) for _ in directions) for _ in range(rng.randint(0, 40))]
    assert pareto_front(points, directions) == by_hand(points, directions)


def test_a_direction_that_is_neither_is_refused():
    with pytest.raises(ValueError, match="'up' is not maximize or minimize"):
        pareto_front([(1, 2)], ["maximize", "up"])
