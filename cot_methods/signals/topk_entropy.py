"""Entropy from top-k log-probabilities: what vLLM and OpenAI-compatible servers return.

A server gives the k most likely next tokens' log-probabilities, not the full distribution,
so the full-vocabulary entropy H = -Σ_v p_v log p_v can only be bracketed. With the top-k
probabilities p_1..p_k and the tail mass r = 1 - Σ p_i spread over the other V - k tokens:

- lower bound: the tail as ONE outcome, H_low = -Σ p_i log p_i - r log r (concentrating mass
  never raises entropy);
- upper bound: the tail spread uniformly, H_up = -Σ p_i log p_i - r log(r / (V - k)) (the
  uniform spread maximises the tail's entropy for a fixed mass).

The estimator we use by default is the lower bound (`tail_as_one`): it needs no assumption
about the tail's shape and is exact as r → 0, which is where the cut thresholds live (τ =
0.15 nats). Its error is at most r·log(V - k), recorded with every probe as the bracket.
`midpoint` and `uniform_tail` are the alternatives. A threshold calibrated on
full-vocabulary entropy therefore does not transfer exactly: the lower bound cuts a little
more eagerly.

Temperature-scaled entropy (EAT's official scores, softmax(logits / T)) from the raw top-k:
`tempered_topk_logprobs` raises each head probability to 1/T and the tail mass r as one
outcome, capped for T < 1 at p_k^(1/T - 1)·r (each tail token is at most p_k likely), then
renormalises. The tail's tempered mass is only estimated (it lies between the uniform spread's
and that cap), so the bracket computed from the tempered head assumes the estimate.
"""

from __future__ import annotations

import math

ESTIMATORS = ("tail_as_one", "midpoint", "uniform_tail")
DEFAULT_ESTIMATOR = "tail_as_one"


def _plogp(p: float) -> float:
    return p * math.log(p) if p > 0 else 0.0  # 0·log 0 = 0


def topk_entropy_bounds(top_logprobs: list[float], vocab_size: int) -> tuple[float, float]:
    """(lower, upper) bounds in nats on the full-vocabulary entropy from top-k logprobs."""
    probs = [math.exp(lp) for lp in top_logprobs if lp is not None and lp > -math.inf]
    head = -sum(_plogp(p) for p in probs)
    tail = max(0.0, 1.0 - sum(probs))
    rest = max(1, vocab_size - len(probs))
    lower = head - _plogp(tail)
    upper = head - (tail * math.log(tail / rest) if tail > 0 else 0.0)
    return lower, max(lower, upper)


def topk_entropy(top_logprobs: list[float], vocab_size: int, estimator: str = DEFAULT_ESTIMATOR) -> float:
    lower, upper = topk_entropy_bounds(top_logprobs, vocab_size)
    if estimator == "tail_as_one":
        return lower
    if estimator == "uniform_tail":
        return upper
    return (lower + upper) / 2


def tempered_topk_logprobs(top_logprobs: list[float], temperature: float) -> list[float]:
    """Top-k log-probabilities of softmax(logits / T), estimated from the raw top-k (see above)."""
    probs = [math.exp(lp) for lp in top_logprobs if lp is not None and lp > -math.inf]
    if not probs or temperature <= 0 or temperature == 1.0:
        return [math.log(p) for p in probs]
    power = 1.0 / temperature
    tail = max(0.0, 1.0 - sum(probs))
    tail_weight = tail**power if tail > 0 else 0.0
    if power > 1 and tail > 0:
        tail_weight = min(tail_weight, min(probs) ** (power - 1) * tail)
    head = [p**power for p in probs]
    total = sum(head) + tail_weight
    return [math.log(w / total) for w in head]
