"""Statistics for paired comparisons, from scipy: the paired BCa bootstrap, the exact McNemar
test, a paired permutation test for repeats, maj@k, pass@k and a probe AUROC.

Pairing by sample id removes between-problem variance, which dominates on small benchmarks
(AIME has 30 problems): a method and its baseline are resampled together. Every random
procedure takes a fixed seed, so a report is reproducible to the last digit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from math import comb

import numpy as np
from scipy import stats

BOOTSTRAP_RESAMPLES = 2000  # resamples of the paired bootstrap (Efron & Tibshirani 1993 suggest ≥ 1000 for CIs)
PERMUTATION_RESAMPLES = 9999  # scipy.stats.permutation_test's default; exact enumeration is used below it
CONFIDENCE_LEVEL = 0.95


def paired_bootstrap(statistic: Callable[..., np.ndarray], samples: Sequence[Sequence[float]], iters: int = BOOTSTRAP_RESAMPLES,
                     seed: int = 0, level: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Paired BCa bootstrap CI of `statistic(*arrays, axis)` (`scipy.stats.bootstrap`, paired=True).

    `statistic` is vectorised: it receives one array per series and reduces along `axis`.
    BCa (bias-corrected and accelerated, Efron 1987) corrects the percentile interval for the
    skew of ratio statistics such as token reduction. Where BCa is undefined (a constant
    statistic makes the jackknife degenerate) the percentile interval is used; one sample
    gives the point value at both ends; none gives (nan, nan).
    """
    arrays = [np.asarray(s, dtype=float) for s in samples]
    n = len(arrays[0]) if arrays else 0
    if n == 0:
        return (float("nan"), float("nan"))
    point = float(statistic(*arrays, axis=-1))
    if n == 1:
        return (point, point)
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DegenerateDataWarning / RuntimeWarning: handled by the nan check
            result = stats.bootstrap(arrays, statistic, paired=True, vectorized=True, n_resamples=iters, method=method,
                                     confidence_level=level, rng=np.random.default_rng(seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            return (low, high)
    return (point, point)  # every resample gives the same value


def _discordant(baseline_correct: list[bool], method_correct: list[bool]) -> tuple[int, int]:
    lost = sum(1 for x, y in zip(baseline_correct, method_correct) if x and not y)
    gained = sum(1 for x, y in zip(baseline_correct, method_correct) if y and not x)
    return lost, gained


def mcnemar_exact(baseline_correct: list[bool], method_correct: list[bool]) -> float:
    """Two-sided exact McNemar p-value: `scipy.stats.binomtest` on the discordant pairs."""
    lost, gained = _discordant(baseline_correct, method_correct)
    if lost + gained == 0:
        return 1.0
    return float(stats.binomtest(lost, lost + gained, 0.5, alternative="two-sided").pvalue)


def mcnemar_one_sided_worse(baseline_correct: list[bool], method_correct: list[bool]) -> float:
    """One-sided exact p-value that the method is *worse* (more pairs lost than gained)."""
    lost, gained = _discordant(baseline_correct, method_correct)
    if lost + gained == 0:
        return 1.0
    return float(stats.binomtest(lost, lost + gained, 0.5, alternative="greater").pvalue)


def paired_permutation_p(baseline_accuracy: Sequence[float], method_accuracy: Sequence[float], alternative: str = "two-sided",
                         seed: int = 0, iters: int = PERMUTATION_RESAMPLES) -> float:
    """Paired (sign-flip) permutation test on per-problem accuracies, for k > 1 repeats.

    The statistic is the mean per-problem difference, baseline − method (avg@k of each
    problem, so the repeats are used rather than rounded away). `alternative="greater"` asks
    whether the method is worse. Problems with equal accuracy are dropped first: they are
    unchanged by a sign flip, and dropping them makes the test exact (all 2^m flips
    enumerated by scipy) whenever 2^m ≤ `iters`. With one repeat per problem this *is* the
    exact McNemar test (the differences are ±1 on the discordant pairs: a sign test).
    """
    diff = np.asarray(baseline_accuracy, dtype=float) - np.asarray(method_accuracy, dtype=float)
    diff = diff[np.abs(diff) > 1e-12]
    if diff.size == 0:
        return 1.0
    result = stats.permutation_test((diff,), lambda d, axis: np.mean(d, axis=axis), permutation_type="samples", vectorized=True,
                                    n_resamples=iters, alternative=alternative, rng=np.random.default_rng(seed))
    return float(min(1.0, result.pvalue))


def majority_vote(answers: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """maj@k (cons@k) of one problem: is the most frequent extracted answer correct?

    Answers are compared as extracted strings, stripped of surrounding space; generations
    without an answer do not vote (none at all: wrong). A tie goes to the tied answer that
    appears first among the generations (deterministic, independent of hashing).
    """
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for index, answer in enumerate(answers):
        if answer is None or not str(answer).strip():
            continue
        key = str(answer).strip()
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, index)
    if not counts:
        return False
    winner = min(counts, key=lambda a: (-counts[a], first[a]))
    return bool(correct[first[winner]])


def probe_auroc(entropies: Sequence[float], answer_correct: Sequence[bool]) -> float | None:
    """AUROC of low probe entropy predicting a correct probe answer (`scipy.stats.mannwhitneyu`).

    AUROC = U / (n_wrong · n_right) with U the Mann–Whitney statistic of the wrong answers'
    entropies against the right answers' (ties count one half): the probability that a wrong
    probe answer has higher entropy than a right one. 0.5 is chance; None when one class is empty.
    """
    values = np.asarray(entropies, dtype=float)
    right = np.asarray(answer_correct, dtype=bool)
    wrong_values, right_values = values[~right], values[right]
    if wrong_values.size == 0 or right_values.size == 0:
        return None
    u = stats.mannwhitneyu(wrong_values, right_values, alternative="two-sided").statistic
    return float(u / (wrong_values.size * right_values.size))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021, arXiv 2107.03374, eq. 1)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)
