"""Top-k entropy bounds against the exact full-vocabulary entropy."""

import math

import pytest
import torch

from cotbench.cot_methods.signals.entropy import entropy_from_logits
from cotbench.cot_methods.signals.topk_entropy import ESTIMATORS, topk_entropy, topk_entropy_bounds


@pytest.mark.parametrize("temperature", [0.1, 1.0, 5.0])
@pytest.mark.parametrize("k", [1, 5, 20, 100])
def test_bounds_bracket_the_full_entropy(temperature, k):
    torch.manual_seed(int(temperature * 10) + k)
    vocab = 500
    for _ in range(20):
        logits = torch.randn(vocab, dtype=torch.float64) / temperature
        exact = float(entropy_from_logits(logits[None])[0])
        top = torch.topk(torch.log_softmax(logits, -1), k).values.tolist()
        lower, upper = topk_entropy_bounds(top, vocab)
        assert lower - 1e-6 <= exact <= upper + 1e-6
        assert lower <= topk_entropy(top, vocab, "midpoint") <= upper


def test_bounds_close_when_all_mass_is_seen():
    logits = torch.randn(50, dtype=torch.float64)
    logprobs = torch.log_softmax(logits, -1)
    exact = float(entropy_from_logits(logits[None])[0])
    lower, upper = topk_entropy_bounds(torch.topk(logprobs, 50).values.tolist(), 50)
    assert lower == pytest.approx(exact, abs=1e-5) and upper == pytest.approx(exact, abs=1e-5)


def test_certain_distribution_and_minus_infinity():
    assert topk_entropy_bounds([0.0, -math.inf], 1000) == (0.0, 0.0)
    assert topk_entropy([math.log(0.5), math.log(0.5)], 10) == pytest.approx(math.log(2))
    assert set(ESTIMATORS) == {"tail_as_one", "midpoint", "uniform_tail"}
