"""ENTRA's Bidirectional Importance Estimation and redundancy score (Cai et al., arXiv 2601.07123).

I(x_i) = log p(x_i | x_<i) + λ·μ_i, where μ_i is the mean attention token i receives from the
tokens after it in the final decoder layer, averaged over heads (docs/METHODS.md §3.1; the paper's
Bayes decomposition approximates the "forward influence" term this way).

The last layer's attention is recomputed from its input hidden states in query chunks, so
memory is O(chunk × n) instead of O(layers × heads × n²) with `output_attentions`; it is exact
for Llama/Qwen2/Qwen3-style attention (q/k projections, RoPE, grouped KV heads).

Redundancy: the low-importance tokens are all but the top `top_fraction` (20 %) by I. Their
entropy, normalised by its upper bound so it lies in [0, 1], is the redundancy score. The
paper does not say which distribution (docs/METHODS.md §3.2), so both readings are here:
- `type_entropy` (default): entropy of the frequency distribution of token ids among the
  low-importance tokens, over log |T_low| (all distinct). "Theoretical upper bound" reads most
  naturally as the log of a count, hence the default.
- `next_token_entropy`: mean full-vocabulary next-token entropy at those positions, over log |V|.
"""

from __future__ import annotations

import math
import sys
from collections import Counter

import torch

from cotbench.errors import CotbenchError

from .entropy import entropy_from_logits

DEFAULT_LAMBDA = 1e-4  # the seed's default; it uses 2 for MATH (set bie_lambda=2 there)
DEFAULT_TOP_FRACTION = 0.2  # the most important 20 % are excluded from the redundancy entropy
REDUNDANCY_READINGS = ("type_entropy", "next_token_entropy")
ATTENTION_CHUNK = 256


def _last_layer_parts(model):
    base = getattr(model, "model", None)
    layers = getattr(base, "layers", None)
    attn = getattr(layers[-1], "self_attn", None) if layers is not None else None
    if attn is None or not all(hasattr(attn, n) for n in ("q_proj", "k_proj")) or not hasattr(base, "rotary_emb"):
        raise CotbenchError(f"BIE needs a Llama/Qwen-style decoder (q_proj, k_proj, rotary_emb); got {type(model).__name__}")
    return base, layers[-1], attn


def attention_received_from_later(model, input_ids: torch.Tensor, hidden_before_last: torch.Tensor, chunk: int = ATTENTION_CHUNK) -> torch.Tensor:
    """μ_i for every position of a single sequence (shape [n]); μ of the last token is 0."""
    base, layer, attn = _last_layer_parts(model)
    module = sys.modules[type(attn).__module__]
    n = input_ids.shape[-1]
    head_dim = attn.head_dim
    x = layer.input_layernorm(hidden_before_last)
    q = attn.q_proj(x).view(1, n, -1, head_dim)
    k = attn.k_proj(x).view(1, n, -1, head_dim)
    if hasattr(attn, "q_norm"):  # Qwen3 normalises q and k per head before RoPE
        q, k = attn.q_norm(q), attn.k_norm(k)
    q, k = q.transpose(1, 2), k.transpose(1, 2)
    positions = torch.arange(n, device=input_ids.device)[None]
    cos, sin = base.rotary_emb(x, positions)
    q, k = module.apply_rotary_pos_emb(q, k, cos, sin)
    k = module.repeat_kv(k, q.shape[1] // k.shape[1])
    heads = q.shape[1]
    received = torch.zeros(n, dtype=torch.float64, device=input_ids.device)
    key_index = torch.arange(n, device=input_ids.device)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        scores = torch.matmul(q[:, :, start:stop].float(), k.float().transpose(-1, -2)) * attn.scaling
        query_index = torch.arange(start, stop, device=input_ids.device)[:, None]
        scores = scores.masked_fill(key_index[None, :] > query_index, float("-inf"))
        probs = torch.softmax(scores, dim=-1)[0]  # heads × queries × keys
        probs = probs.masked_fill(key_index[None, :] == query_index, 0.0)  # a token's attention to itself is not "from later"
        received += probs.sum(dim=(0, 1)).double()
    later = (n - 1 - key_index).clamp(min=1).double()
    mu = received / (heads * later)
    mu[-1] = 0.0
    return mu.float()


def bidirectional_importance(model, prompt_ids: list[int], response_ids: list[int], lam: float = DEFAULT_LAMBDA, chunk: int = ATTENTION_CHUNK) -> dict:
    """Per response token: log-probability, μ, importance I, and next-token entropy."""
    device = next(model.parameters()).device
    ids = torch.tensor([prompt_ids + response_ids], device=device)
    with torch.inference_mode():
        out = model(ids, output_hidden_states=True, logits_to_keep=len(response_ids) + 1)
        logits = out.logits[0, :-1].float()  # predicts each response token
        log_probs = torch.log_softmax(logits, dim=-1)
        target = torch.tensor(response_ids, device=device)
        token_log_prob = log_probs.gather(1, target[:, None])[:, 0]
        mu_all = attention_received_from_later(model, ids, out.hidden_states[-2], chunk)
        mu = mu_all[len(prompt_ids) :]
        entropy = entropy_from_logits(logits)
    importance = token_log_prob + lam * mu
    return {"log_prob": token_log_prob.cpu(), "mu": mu.cpu(), "importance": importance.cpu(), "entropy": entropy.cpu(),
            "vocab_size": logits.shape[-1]}


def low_importance_mask(importance: torch.Tensor, top_fraction: float = DEFAULT_TOP_FRACTION) -> torch.Tensor:
    """True for every token outside the top `top_fraction` by importance."""
    n = importance.numel()
    n_top = math.ceil(top_fraction * n)
    mask = torch.ones(n, dtype=torch.bool)
    if n_top:
        mask[torch.topk(importance, n_top).indices] = False
    return mask


def redundancy_score(response_ids: list[int], bie: dict, reading: str = "type_entropy", top_fraction: float = DEFAULT_TOP_FRACTION) -> float:
    """Normalised entropy of the low-importance tokens, in [0, 1]."""
    if reading not in REDUNDANCY_READINGS:
        raise CotbenchError(f"redundancy reading {reading!r}: expected one of {', '.join(REDUNDANCY_READINGS)}")
    mask = low_importance_mask(bie["importance"], top_fraction)
    if reading == "next_token_entropy":
        values = bie["entropy"][mask]
        return min(1.0, float(values.mean() / math.log(bie["vocab_size"]))) if values.numel() else 0.0
    low = [t for t, keep in zip(response_ids, mask.tolist()) if keep]
    if len(low) < 2:
        return 0.0
    counts = Counter(low)
    entropy = -sum(c / len(low) * math.log(c / len(low)) for c in counts.values())
    return min(1.0, entropy / math.log(len(low)))  # the bound, up to rounding
