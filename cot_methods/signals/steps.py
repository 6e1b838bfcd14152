"""Reasoning steps and step entropy (Li et al., "Making Slow Thinking Faster: Compressing LLM
Chain-of-Thought via Step Entropy", arXiv 2508.03346; code staymylove/COT_Compresstion_via_Step_entropy).

Where one step ends and the next begins (`STEP_SPLITS`):
- `text` (default; the paper's description, docs/METHODS.md §4.1): the thinking *text* is split at
  every "\\n\\n", wherever the tokenizer puts it (as one token, as two, or inside ".\\n\\n" or
  "\\n\\nWait"), and the compressed thinking keeps a "\\n\\n" between steps;
- `token` (the released code): a step ends at a *token* that is exactly "\\n\\n" (vLLM's 'ĊĊ',
  build_complete_thinking_dataset.py:75), so a ".\\n\\n" or "\\n\\n\\n" token does not end a step;
  each step is stripped (:79, :86) and the compressed thinking joins steps with nothing between
  them (sort_step_entropy.py:125, `''.join`). Not reproduced: the official step list is a dict
  keyed by the step's text (:108-110), which merges repeated steps into one.
Either way every thinking token is assigned to the step its text overlaps, by character
offsets; tokens that are only separator belong to no step and are not scored (as the official
code leaves the 'ĊĊ' token out of the step's mean, :75-92).

Step scores (`STEP_SCORES`):
- `sum`: Σ_j H(t_ij | c_ij) — the paper's v1 / ICLR submission (Theorem 1 bounds with sums);
- `mean`: (1/M_i) Σ_j H(t_ij | c_ij) — the paper's v2 (camera-ready); our default because it
  does not favour pruning short steps merely for being short;
- `sampled_plogp`: mean over the step of -p·log p of the *sampled* token — what the official
  code computes from `logprobs` (compute_neg_plogp / calculate_average_token_entropy_per_sentence).
H is full-vocabulary entropy in nats (the paper writes log2; the base only scales every score).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

STEP_SEPARATOR = "\n\n"
SKIP_TOKEN = "[SKIP]"
# How thinking is split into steps and rejoined after pruning (module docstring): the paper's
# text rule (default) or the released code's token rule.
STEP_SPLITS = ("text", "token")
DEFAULT_STEP_SPLIT = "text"
# κ: the share of steps replaced by [SKIP] (paper §4 and code default --mask_ratio 0.8).
DEFAULT_SKIP_RATIO = 0.8
STEP_SCORES = ("mean", "sum", "sampled_plogp")
SELECTIONS = ("low", "random", "high")  # low-entropy pruning and the paper's two controls


@dataclass(frozen=True)
class Step:
    start: int  # character offsets in the thinking text, separators excluded
    end: int

    def text(self, thinking: str) -> str:
        return thinking[self.start : self.end]


def split_steps(thinking: str, separator: str = STEP_SEPARATOR) -> list[Step]:
    """Non-empty steps between separators (runs of separators never make empty steps)."""
    steps, position = [], 0
    while position <= len(thinking):
        found = thinking.find(separator, position)
        end = len(thinking) if found == -1 else found
        if thinking[position:end].strip():
            steps.append(Step(position, end))
        if found == -1:
            break
        position = found + len(separator)
    return steps


def split_steps_at_tokens(thinking: str, spans: list[tuple[int, int]], separator: str = STEP_SEPARATOR) -> list[Step]:
    """Non-empty steps of `thinking` (decoded, `spans` from `token_char_spans`) ended by tokens
    whose text is exactly `separator`: the official rule (build_complete_thinking_dataset.py:75).
    A step's span runs from after one separator token to the next; whitespace-only steps are
    dropped, as `split_steps` drops them."""
    steps, position = [], 0
    ends = [(start, end) for start, end in spans if thinking[start:end] == separator]
    for start, end in [*ends, (len(thinking), len(thinking))]:
        if thinking[position:start].strip():
            steps.append(Step(position, start))
        position = end
    return steps


def thinking_steps(thinking: str, spans: list[tuple[int, int]] | None = None, step_split: str = DEFAULT_STEP_SPLIT) -> list[Step]:
    """The steps of `thinking` under `step_split` (`STEP_SPLITS`); the token rule needs the
    thinking's token spans."""
    if step_split not in STEP_SPLITS:
        raise ValueError(f"step_split={step_split!r}: expected one of {', '.join(STEP_SPLITS)}")
    if step_split == "text":
        return split_steps(thinking)
    if spans is None:
        raise ValueError("step_split='token' needs the thinking's token spans (token_char_spans)")
    return split_steps_at_tokens(thinking, spans)


def token_char_spans(tokenizer, token_ids: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each token's text in `tokenizer.decode(token_ids)`.

    Incremental detokenisation over a short window (as serving engines do); if the pieces do
    not reproduce the full decode exactly (rare tokenizer quirks), fall back to decoding every
    prefix, which is exact by construction."""
    full = tokenizer.decode(token_ids, skip_special_tokens=False)
    spans, cursor, window = [], 0, 6
    for i in range(len(token_ids)):
        start = max(0, i - window)
        before = tokenizer.decode(token_ids[start:i], skip_special_tokens=False)
        upto = tokenizer.decode(token_ids[start : i + 1], skip_special_tokens=False)
        piece = upto[len(before) :] if upto.startswith(before) and not upto.endswith("\ufffd") else None
        if piece is None:
            break
        spans.append((cursor, cursor + len(piece)))
        cursor += len(piece)
    if len(spans) == len(token_ids) and cursor == len(full):
        return spans
    spans, previous = [], 0
    for i in range(len(token_ids)):
        length = len(tokenizer.decode(token_ids[: i + 1], skip_special_tokens=False))
        spans.append((previous, max(previous, length)))
        previous = max(previous, length)
    return spans


def assign_tokens_to_steps(spans: list[tuple[int, int]], steps: list[Step]) -> list[int | None]:
    """Step index of each token: the step holding its first non-separator character; None
    for tokens that are only separator (or lie after the thinking)."""
    owners: list[int | None] = []
    step_index = 0
    for start, end in spans:
        while step_index < len(steps) and steps[step_index].end <= start:
            step_index += 1
        if step_index < len(steps) and steps[step_index].start < end:
            owners.append(step_index)  # the token overlaps this step's text
        else:
            owners.append(None)
    return owners


def score_steps(owners: list[int | None], entropies: list[float], sampled_probs: list[float] | None, n_steps: int, score: str = "mean") -> list[float]:
    """Per-step score from per-token values (see the module docstring)."""
    if score not in STEP_SCORES:
        raise ValueError(f"step score {score!r}: expected one of {', '.join(STEP_SCORES)}")
    buckets: list[list[float]] = [[] for _ in range(n_steps)]
    for i, owner in enumerate(owners):
        if owner is None:
            continue
        if score == "sampled_plogp":
            p = sampled_probs[i]
            buckets[owner].append(-p * math.log(p) if p > 0 else 0.0)
        else:
            buckets[owner].append(entropies[i])
    if score == "sum":
        return [sum(b) for b in buckets]
    return [sum(b) / len(b) if b else 0.0 for b in buckets]


def steps_to_skip(scores: list[float], skip_ratio: float = DEFAULT_SKIP_RATIO, selection: str = "low", seed: int = 0) -> set[int]:
    """Indices of the ⌊κ·N⌋ steps to replace: lowest scores (the method), or the controls."""
    n_skip = math.floor(skip_ratio * len(scores))
    order = list(range(len(scores)))
    if selection == "random":
        random.Random(seed).shuffle(order)
    else:
        order.sort(key=lambda i: (scores[i], i), reverse=(selection == "high"))
    return set(order[:n_skip])


def compress_thinking(thinking: str, steps: list[Step], skipped: set[int], step_split: str = DEFAULT_STEP_SPLIT) -> str:
    """The thinking with each skipped step replaced by [SKIP], in order. `text`: steps rejoined
    with "\\n\\n"; `token` (official, sort_step_entropy.py:125): stripped steps joined with
    nothing between them."""
    if step_split not in STEP_SPLITS:
        raise ValueError(f"step_split={step_split!r}: expected one of {', '.join(STEP_SPLITS)}")
    if step_split == "token":
        return "".join(SKIP_TOKEN if i in skipped else step.text(thinking).strip() for i, step in enumerate(steps))
    parts = [SKIP_TOKEN if i in skipped else step.text(thinking) for i, step in enumerate(steps)]
    return STEP_SEPARATOR.join(parts)


def skip_statistics(thinking: str) -> dict:
    """[SKIP] count and ratio as the official GRPO code computes it:
    count("[SKIP]") / (count("\\n\\n") + count("[SKIP]")), denominator floored at 1."""
    skips = thinking.count(SKIP_TOKEN)
    return {"skip_steps": skips, "skip_ratio": skips / max(1, thinking.count(STEP_SEPARATOR) + skips)}


def teacher_forced_token_stats(model, context_ids: list[int], target_ids: list[int]):
    """Full-vocabulary entropy and probability of each target token, from ONE forward pass
    over context + target (for scoring an existing text)."""
    import torch

    from .entropy import entropy_from_logits

    ids = torch.tensor([context_ids + target_ids], device=next(model.parameters()).device)
    with torch.inference_mode():
        logits = model(ids).logits[0, len(context_ids) - 1 : -1].float()
    entropies = entropy_from_logits(logits).tolist()
    probs = torch.softmax(logits, dim=-1).gather(1, torch.tensor(target_ids, device=logits.device)[:, None])[:, 0].tolist()
    return entropies, probs


def score_thinking_steps(model, tokenizer, context_ids: list[int], thinking: str, score: str = "mean",
                         step_split: str = DEFAULT_STEP_SPLIT):
    """(decoded thinking, its steps, each step's score) from ONE teacher-forced pass: the
    pipeline the SFT builder and the step-entropy analyses share."""
    thinking_ids = tokenizer.encode(thinking, add_special_tokens=False)
    if not thinking_ids:
        return "", [], []
    entropies, probs = teacher_forced_token_stats(model, context_ids, thinking_ids)
    decoded = tokenizer.decode(thinking_ids)
    spans = token_char_spans(tokenizer, thinking_ids)
    steps = thinking_steps(decoded, spans, step_split)
    owners = assign_tokens_to_steps(spans, steps)
    return decoded, steps, score_steps(owners, entropies, probs, len(steps), score)
