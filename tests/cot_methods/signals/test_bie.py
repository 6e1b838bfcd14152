"""ENTRA's BIE on a tiny model against a direct computation from `output_attentions`."""

import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from cotbench.cot_methods.signals.bie import bidirectional_importance, low_importance_mask, redundancy_score


@pytest.fixture(scope="module")
def eager_model():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=256, attn_implementation="eager")
    return LlamaForCausalLM(config).eval()


def test_mu_and_importance_match_output_attentions(eager_model):
    prompt, response = list(range(3, 13)), [20, 21, 22, 20, 23, 24, 25, 20, 26, 27, 28, 29]
    bie = bidirectional_importance(eager_model, prompt, response, lam=2.0, chunk=5)  # chunks smaller than n
    ids = torch.tensor([prompt + response])
    with torch.no_grad():
        out = eager_model(ids, output_attentions=True)
    attention = out.attentions[-1][0]  # heads × n × n
    n = ids.shape[1]
    logp = torch.log_softmax(out.logits[0], -1)
    for j, token in enumerate(response):
        i = len(prompt) + j
        direct_mu = attention[:, i + 1 :, i].mean().item() if i < n - 1 else 0.0
        assert bie["mu"][j].item() == pytest.approx(direct_mu, abs=1e-5)
        direct_logp = logp[i - 1, token].item()
        assert bie["importance"][j].item() == pytest.approx(direct_logp + 2.0 * direct_mu, abs=1e-4)


def test_low_importance_excludes_the_top_fifth():
    importance = torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0, 0.0, -1.0, 6.0, 7.0, 8.0])
    mask = low_importance_mask(importance, 0.2)
    assert mask.tolist() == [True, True, True, True, True, True, True, True, False, False]


def test_redundancy_readings_are_normalised():
    bie = {"importance": torch.zeros(5), "entropy": torch.full((5,), math.log(64) / 2), "vocab_size": 64}
    assert redundancy_score([1, 2, 3, 4, 5], bie, "type_entropy", 0.0) == pytest.approx(1.0)  # all distinct
    assert redundancy_score([7, 7, 7, 7, 7], bie, "type_entropy", 0.0) == pytest.approx(0.0)  # one type
    assert redundancy_score([1, 2, 3, 4, 5], bie, "next_token_entropy", 0.0) == pytest.approx(0.5)
