"""What a segment backend is asked and what it answers: the contract between the segment loop
and vLLM or an OpenAI-compatible server. Backends import this file, never the loop.

Two ways to be driven (issue 29). A backend's `stream()` takes requests one at a time and hands
back each answer as soon as it is ready, so a row sends its next request (a probe, the
continuation after it) while the other rows are still decoding: vLLM's continuous batching or
a server's concurrency then interleaves them, and a probe costs its own few tokens, not a
round of the whole batch. A backend with only `complete(requests)` (a batch in, a batch out)
is driven in rounds by `RoundStream`, where every row waits for the slowest of its round.
A request no longer wanted (the loop's speculative continuation after a probe that cut) is
cancelled: its answer never comes back.
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
    # Prompt tokens the backend served from its prefix cache (vLLM's `num_cached_tokens`, a
    # server's `usage.prompt_tokens_details.cached_tokens`); None: not reported.
    cached_tokens: int | None = None


@dataclass(frozen=True)
class RequestFailed:
    """A request that failed for good (its retries spent): its row ends, recorded with the reason."""

    reason: str


class SegmentStream(Protocol):
    """Requests in one at a time, answers out as each is ready: no barrier between rows.

    A key names one request in flight; once it is answered or cancelled it may name another."""

    # True: a request submitted now runs beside those in flight and is answered when ready, so the
    # loop may send a row's likely continuation alongside its probe (segment_loop.py, issue 29).
    # False (rounds): that continuation would only add tokens to the probe's round.
    concurrent: bool

    def submit(self, key: int, request: SegmentRequest) -> None:
        """Start a request; `key` comes back with its answer."""
        ...

    def cancel(self, key: int) -> None:
        """Drop a request in flight that is no longer wanted: its answer is never returned (a
        backend stops decoding it where it can). A key not in flight is ignored."""
        ...

    def finished(self) -> list[tuple[int, Segment | RequestFailed]]:
        """Wait until at least one submitted request is answered; (key, answer) for each that is."""
        ...

    def close(self) -> None:
        """Drop the requests still in flight (a run that ends in an error leaves none behind)."""
        ...


class SegmentBackend(Protocol):
    """What the segment loop drives: `VLLMBackend`, `OpenAICompletionsBackend`, or the tests' HF one."""

    def complete(self, requests: list[SegmentRequest]) -> list[Segment]:
        """One segment per request, in order; a backend may batch a call's requests or send them concurrently."""
        ...


class RoundStream:
    """`SegmentStream` over a backend that answers whole batches (`complete`): the requests
    submitted since the last answer go out together, and all come back together."""

    concurrent = False

    def __init__(self, backend: SegmentBackend):
        self.backend = backend
        self.pending: list[tuple[int, SegmentRequest]] = []

    def submit(self, key: int, request: SegmentRequest) -> None:
        self.pending.append((key, request))

    def cancel(self, key: int) -> None:
        """Out of the next round; a round already run answered it with the others."""
        self.pending = [(pending_key, request) for pending_key, request in self.pending if pending_key != key]

    def finished(self) -> list[tuple[int, Segment | RequestFailed]]:
        pending, self.pending = self.pending, []
        segments = self.backend.complete([request for _, request in pending])
        return [(key, segment) for (key, _), segment in zip(pending, segments)]

    def close(self) -> None:
        self.pending = []


def open_stream(backend) -> SegmentStream:
    """The backend's own stream where it has one (vLLM's engine, a server), else rounds."""
    stream = getattr(backend, "stream", None)
    return stream() if callable(stream) else RoundStream(backend)
