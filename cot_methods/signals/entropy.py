"""Full-vocabulary entropy and max-probability from logits, safe for -inf logits.

H(p) = -Σ_v p(v) log p(v) with 0·log 0 = 0 (torch.special.entr), so banned tokens
(logit -inf) contribute nothing instead of NaN. Nats by default; bits on request.
"""

from __future__ import annotations

import math

import torch

LOG_BASES = {"nats": 1.0, "bits": math.log(2.0)}


def entropy_from_logits(logits: torch.Tensor, unit: str = "nats") -> torch.Tensor:
    """Entropy of softmax(logits) over the last dimension."""
    return entropy_from_probabilities(torch.softmax(logits.float(), dim=-1), unit)


def entropy_from_probabilities(probabilities: torch.Tensor, unit: str = "nats") -> torch.Tensor:
    """-Σ p log p over the last dimension (for a caller that needs the probabilities too)."""
    return torch.special.entr(probabilities).sum(dim=-1) / LOG_BASES[unit]
