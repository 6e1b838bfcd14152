"""What a segment backend is asked and what it answers: the contract between the segment loop
and vLLM or an OpenAI-compatible server. Backends import this file, never the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class SegmentRequest:
    prompt: str  # the whole text so far: chat-templated prompt + generated text (+ probe)
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    top_k: int = 0  # 0: off
    min_p: float = 0.0
    presence_penalty: float = 0.0
    repetition_penalty: float = 1.0
    top_logprobs: int = 0  # > 0: return the top-k logprobs of every generated position
    banned_ids: frozenset[int] = frozenset()
    prompt_ids: tuple[int, ...] | None = None  # the same context as token ids: send these where a backend takes ids


@dataclass
class Segment:
    text: str  # without the matched stop text
    tokens: int  # tokens the model generated, the matched stop text's included; -1: unknown (count the text)
    finish_reason: str  # "stop" (a stop text), "eos", or "length"
    matched_stop: str | None = None
    top_logprobs: list[list[float]] = field(default_factory=list)  # per position, descending
    token_texts: list[str] = field(default_factory=list)
    token_ids: list[int] | None = None  # generated ids, a matched stop text's included; None: not returned
    # Per position, the logprob of the token generated there (the sampled one, not the top-1):
    # vLLM's `logprobs[i][token_ids[i]]`, a server's `logprobs.token_logprobs`; empty: not returned.
    token_logprobs: list[float] = field(default_factory=list)


class SegmentBackend(Protocol):
    """What the segment loop drives: `VLLMBackend`, `OpenAICompletionsBackend`, or the tests' HF one."""

    def complete(self, requests: list[SegmentRequest]) -> list[Segment]:
        """One segment per request, in order; a backend may batch a call's requests or send them concurrently."""
        ...
