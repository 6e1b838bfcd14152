"""The scipy-based statistics against closed forms and brute force: exact McNemar, the
paired permutation test, the BCa bootstrap, maj@k ties and the probe AUROC."""

import itertools
import random
import statistics

import numpy as np
import pytest

from cotbench.reports.statistics import (
    majority_vote,
    mcnemar_exact,
    mcnemar_one_sided_worse,
    paired_bootstrap,
    paired_permutation_p,
    probe_auroc,
)


def test_mcnemar_exact_values():
    # 6 lost, 0 gained: two-sided p = 2 * 0.5**6
    assert mcnemar_exact([True] * 6 + [False] * 4, [False] * 6 + [False] * 4) == pytest.approx(2 / 64)
    assert mcnemar_exact([True, False], [True, False]) == 1.0
    assert mcnemar_one_sided_worse([True] * 6, [False] * 6) == pytest.approx(1 / 64)
    assert mcnemar_one_sided_worse([False] * 6, [True] * 6) == 1.0
    # 5 lost, 2 gained: P(X >= 5 | n=7) = (21 + 7 + 1) / 128
    assert mcnemar_one_sided_worse([True] * 5 + [False] * 2, [False] * 5 + [True] * 2) == pytest.approx(29 / 128)


def test_permutation_test_with_one_repeat_is_exact_mcnemar():
    rng = random.Random(7)
    for n, tolerance in ((12, 1e-9), (200, 0.02)):  # 12 pairs: all sign flips enumerated; 200: 9999 seeded resamples
        base = [rng.random() < 0.6 for _ in range(n)]
        new = [rng.random() < 0.5 for _ in range(n)]
        as_float = ([float(x) for x in base], [float(x) for x in new])
        assert paired_permutation_p(*as_float) == pytest.approx(mcnemar_exact(base, new), abs=tolerance)
        assert paired_permutation_p(*as_float, alternative="greater") == pytest.approx(mcnemar_one_sided_worse(base, new), abs=tolerance)


def test_permutation_test_on_repeats_matches_full_enumeration():
    base = [1.0, 0.75, 0.5, 1.0, 0.25, 0.75, 1.0, 0.5]
    new = [0.5, 0.75, 0.25, 0.75, 0.5, 0.25, 1.0, 0.0]
    diff = [b - n for b, n in zip(base, new) if b != n]
    observed = statistics.fmean(diff)
    flips = [statistics.fmean(s * d for s, d in zip(signs, diff)) for signs in itertools.product((1, -1), repeat=len(diff))]
    expected = sum(f >= observed - 1e-12 for f in flips) / len(flips)
    assert paired_permutation_p(base, new, alternative="greater") == pytest.approx(expected)
    assert paired_permutation_p(base, base) == 1.0


def test_bootstrap_ci_of_a_mean_agrees_with_the_normal_interval():
    rng = np.random.default_rng(0)
    values = rng.normal(10.0, 2.0, size=400)
    zeros = np.zeros_like(values)
    low, high = paired_bootstrap(lambda x, z, axis: np.mean(x, axis=axis) - np.mean(z, axis=axis), (values, zeros), seed=1)
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert low == pytest.approx(values.mean() - half, abs=0.05) and high == pytest.approx(values.mean() + half, abs=0.05)


def test_bootstrap_is_reproducible_and_handles_degenerate_input():
    values = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    mean = lambda x, axis: np.mean(x, axis=axis)  # noqa: E731
    ci = paired_bootstrap(mean, (values,), 1000, seed=3)
    assert ci == paired_bootstrap(mean, (values,), 1000, seed=3)
    assert ci[0] <= statistics.fmean(values) <= ci[1] and ci[0] < ci[1]
    assert paired_bootstrap(mean, ([2.0] * 5,)) == (2.0, 2.0)
    assert paired_bootstrap(mean, ([3.0],)) == (3.0, 3.0)
    assert all(np.isnan(paired_bootstrap(mean, ([],))))


def test_majority_vote_ties_go_to_the_first_answer_and_blanks_do_not_vote():
    assert majority_vote(["4", "5", "5", "4"], [True, False, False, True]) is True  # 2-2 tie: "4" came first
    assert majority_vote(["5", "4", "5", "4"], [False, True, False, True]) is False
    assert majority_vote([None, None, "3"], [False, False, True]) is True
    assert majority_vote([None, ""], [False, False]) is False


def test_auroc_matches_brute_force_pair_counting():
    rng = random.Random(3)
    entropies = [round(rng.random(), 1) for _ in range(60)]  # rounded: ties happen
    right = [rng.random() < 0.5 for _ in entropies]
    pairs = [(w, r) for w, wc in zip(entropies, right) if not wc for r, rc in zip(entropies, right) if rc]
    expected = sum(1.0 if w > r else 0.5 if w == r else 0.0 for w, r in pairs) / len(pairs)
    assert probe_auroc(entropies, right) == pytest.approx(expected)
    assert probe_auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 1.0
    assert probe_auroc([0.1, 0.2], [True, True]) is None
