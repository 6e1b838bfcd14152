"""What a method tells the thinking-loop engine: when to probe, what to probe, what to decide.

A method is a `ThinkingPolicy`. The engine calls `on_token` for every token sampled while the
row is thinking (before the token is fed back), `on_probe` when a probe it asked for is done,
and `mask_logits` before sampling a thinking token. Policies never touch the model, the cache
or the sampler; that keeps every method a small file and every comparison on equal terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class ProbeSpec:
    """A side generation appended to the current thinking and discarded afterwards.

    `prefix` is fed as one chunk on top of the KV cache; then up to `max_tokens` tokens are
    decoded greedily, each next-token distribution yielding an entropy and a max-probability.
    The probe stops early when its decoded text contains one of `stop_texts`.

    Loop hooks for `protocol=paper` (the engine honours them where it supports them):
    - `temperature` > 0: probe tokens are *sampled* at this temperature with nucleus `top_p`
      (Dynasor's official client probes at T 0.6 / top-p 0.95) from a probe-only random stream,
      so the main sampler's stream is untouched; 0 is greedy.
    - `entropy_at_sampling_temperature`: entropies (and max-probabilities) are of softmax(logits / T)
      (EAT's official code reads temperature-scaled scores); False: raw logits. T is
      `entropy_temperature` when > 0 — a fixed T, applied under greedy decoding too (EAT's official
      0.6) — else the run's sampling temperature (none under greedy decoding: raw logits).
    Every probe reports the probability of each token it chose (`ProbeResult.chosen_probs`, of the
    raw distribution), what DEER's official vLLM code averages.
    """

    prefix_ids: tuple[int, ...]
    max_tokens: int
    stop_texts: tuple[str, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    entropy_at_sampling_temperature: bool = False
    entropy_temperature: float = 0.0


@dataclass(frozen=True)
class ProbeResult:
    entropies: list[float]  # of each next-token distribution, in the engine's entropy unit
    max_probs: list[float]  # max-probability of each of those distributions
    token_ids: list[int]  # the probe tokens (the probe's answer)
    text: str
    token_texts: list[str] | None = None  # per token, when a server returns texts, not ids
    # Probability of each token the probe chose (raw distribution): the max-probability for a
    # greedy probe, the sampled token's for a sampled one; None where a backend did not return it.
    chosen_probs: list[float] | None = None


@dataclass(frozen=True)
class SegmentPlan:
    """Where a policy may act next, for backends that generate text in segments (vLLM, an
    OpenAI-compatible server) instead of token by token.

    The segment stops at the first of: a `stop_texts` match (a trigger word: the policy decides
    *before* the word is fed, as `on_token` does for the sampled trigger token), a
    `boundary_texts` match (a step end: fed first, then `on_token` is asked), or `max_tokens`
    more thinking tokens (a budget or a probing interval)."""

    stop_texts: tuple[str, ...] = ()
    boundary_texts: tuple[str, ...] = ()
    max_tokens: int | None = None


class Action:
    """Returned by `on_token`: feed the token, probe before feeding it, or close thinking."""


@dataclass(frozen=True)
class Feed(Action):
    pass


@dataclass(frozen=True)
class Probe(Action):
    spec: ProbeSpec


@dataclass(frozen=True)
class CloseThinking(Action):
    """Drop the sampled token and append the close text (then `answer_prefix`, e.g. s1's
    "Final Answer:"). `final_text`, when given, replaces the close text and ends the row
    (methods such as Dynasor-CoT that already know the answer and generate nothing more).
    `close_text`, when given, replaces the run's close text for this close (s1 adds its newline
    only where the thinking lacks one). `answer_tokens`, when given, is the answer's own budget
    after the forced text, in place of what remains of `max_new_tokens` (s1's answer request
    gets max_gen_toks anew)."""

    reason: str
    final_text: str | None = None
    answer_prefix: str = ""
    close_text: str | None = None
    answer_tokens: int | None = None


@dataclass(frozen=True)
class Decision:
    """Returned by `on_probe`: cut (close thinking) or continue, with the score that decided."""

    cut: bool
    score: float | None = None
    reason: str = ""
    final_text: str | None = None


@dataclass
class RowView:
    """What a policy may read about one row (read-only by convention).

    `tail_text()` decodes the last few fed tokens on demand: text-level facts such as "the
    thinking just ended a step with \\n\\n" cannot be read off single tokens, because
    tokenisers split "\\n\\n" differently."""

    thinking_tokens: int  # thinking tokens fed so far (the held token excluded)
    last_token_id: int | None  # the last token fed to the model
    token_text: str  # decoded text of the sampled token under decision
    probes_done: int
    max_new_tokens: int  # the generation budget of this request
    state: dict = field(default_factory=dict)  # the policy's own per-row memory
    tail_text: Callable[[], str] = lambda: ""


class ThinkingPolicy:
    """The no-op policy: full reasoning (the `vanilla` adapter)."""

    name = "vanilla"
    # Loop hook: `mask_logits` and `banned_token_ids` hold for the answer too, not only while
    # thinking (NoWait's `ban_in_answer`).
    masks_answer = False

    def on_token(self, row: RowView, token_id: int) -> Action:
        return Feed()

    def on_probe(self, row: RowView, result: ProbeResult) -> Decision:
        return Decision(cut=False)

    def mask_logits(self, logits: torch.Tensor, recent_ids: list[list[int]] | None = None) -> torch.Tensor:
        """Adjust next-token logits of rows that are thinking (and answering, with `masks_answer`;
        shape: rows × vocab).
        `recent_ids` (loop hook, optional): each of those rows' last fed token ids, for bans
        that depend on context (NoWait's multi-token keywords)."""
        return logits

    def segment_plan(self, row: RowView) -> SegmentPlan:
        """Segment backends: where the next decision can fall (vanilla: nowhere)."""
        return SegmentPlan()

    def banned_token_ids(self) -> frozenset[int]:
        """Segment backends: tokens never sampled while thinking (and answering, with
        `masks_answer`), sent as logit_bias -100."""
        return frozenset()

    def describe(self) -> dict:
        """The method's arguments, for the record and the report."""
        return {}
