"""The thinking loop for backends that generate text in segments: vLLM and OpenAI-compatible
servers. Same `ThinkingPolicy` objects as the HF engine, same decisions, different grain.

Per row, a small state machine: think until the policy's `SegmentPlan` says a decision may
fall (a trigger word as a stop string, a step end, a token budget) or the model closes
thinking itself → ask `on_token` → feed, probe, or close thinking → answer. All rows' next
requests go to the backend together, so a backend can batch them (vLLM) or send them
concurrently (a server). What follows a policy's answer is `row.py`'s, shared with the HF
engine.

What differs from the HF engine, and is recorded or documented:
- probes see top-k log-probabilities only, so their entropies are top-k estimates with a
  bracket (`topk_entropy.py`); max-probabilities and probe answers are exact;
- a trigger is matched as text (a stop string) rather than as a token id, and every request
  re-sends the text so far, which the server re-tokenises (a boundary can tokenise
  differently from the sampled tokens);
- NoWait's ban is a logit bias of -100, not -inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .policy import Probe, ProbeResult, ProbeSpec, SegmentPlan, ThinkingPolicy
from .row import ANSWER, DONE, THINKING, DecodeSettings, Forced, Row, RowResult
from .topk_entropy import DEFAULT_ESTIMATOR, topk_entropy, topk_entropy_bounds

NO_TOKEN = -1  # `on_token`'s token id when no sampled token is under decision (a budget, a step end)
TAIL_CHARS = 64  # characters of thinking a policy's `RowView.tail_text()` sees


@dataclass(frozen=True)
class SegmentRequest:
    prompt: str  # the whole text so far: chat-templated prompt + generated text (+ probe)
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    top_logprobs: int = 0  # > 0: return the top-k logprobs of every generated position
    banned_ids: frozenset[int] = frozenset()


@dataclass
class Segment:
    text: str  # without the matched stop text
    tokens: int  # tokens the model generated, the matched stop text's included; -1: unknown (count the text)
    finish_reason: str  # "stop" (a stop text), "eos", or "length"
    matched_stop: str | None = None
    top_logprobs: list[list[float]] = field(default_factory=list)  # per position, descending
    token_texts: list[str] = field(default_factory=list)


@dataclass
class _Row(Row):
    """A row as text: what the backend is sent next."""

    prompt: str = ""
    seed: int = 0
    thinking: str = ""
    answer: str = ""
    held: str | None = None  # a trigger text matched as a stop string, not yet fed
    held_tokens: int = 0
    plan: SegmentPlan = field(default_factory=SegmentPlan)  # of the last thinking request
    probe: ProbeSpec | None = None
    probe_text: str = ""
    requests: int = 0


class SegmentThinkingLoop:
    """Runs rows through a `ThinkingPolicy` on a segment backend (`complete(requests)`)."""

    def __init__(self, backend, tokenizer, top_k: int = 20, estimator: str = DEFAULT_ESTIMATOR):
        self.backend = backend
        self.tokenizer = tokenizer
        self.vocab_size = len(tokenizer)
        self.top_k, self.estimator = top_k, estimator  # logprobs per probe position; topk_entropy.py

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False)) if text else 0

    def run(self, prompts: list[str], settings: DecodeSettings, policy: ThinkingPolicy, row_seeds: list[int]) -> list[tuple[RowResult, str]]:
        """(accounting, generated text) per prompt."""
        rows = [_Row(i, settings.max_new_tokens, prompt=prompt, seed=settings.seed + seed)
                for i, (prompt, seed) in enumerate(zip(prompts, row_seeds))]
        while True:
            active = [row for row in rows if row.phase != DONE]
            pending = []
            for row in active:
                request = self._next_request(row, settings, policy)
                if request is not None:
                    pending.append((row, request))
            if not pending:
                if not any(row.phase != DONE for row in rows):
                    break
                continue
            segments = self.backend.complete([request for _, request in pending])
            for (row, _), segment in zip(pending, segments):
                row.requests += 1
                self._absorb(row, segment, settings, policy)
        return [(row.result(), row.thinking + row.answer) for row in rows]

    # -- one row ------------------------------------------------------------------------
    @staticmethod
    def _view(row: _Row):
        return row.view(row.held or "", None, lambda: row.thinking[-TAIL_CHARS:])

    @staticmethod
    def _temperature(settings: DecodeSettings) -> float:
        return settings.temperature if settings.do_sample else 0.0

    def _next_request(self, row: _Row, settings: DecodeSettings, policy: ThinkingPolicy) -> SegmentRequest | None:
        seed = row.seed + 7919 * row.requests
        if row.probe is not None:
            return SegmentRequest(
                prompt=row.prompt + row.thinking + row.probe_text,
                max_tokens=row.probe.max_tokens,
                stop=tuple(row.probe.stop_texts),
                top_logprobs=self.top_k,
            )
        limit = row.room(settings)
        if limit <= 0:
            row.finish("length")
            return None
        if row.phase == ANSWER:
            return SegmentRequest(row.prompt + row.thinking + row.answer, limit, self._temperature(settings), settings.top_p, seed, settings.stop_strings)
        plan = policy.segment_plan(self._view(row))
        if plan.max_tokens == 0:  # a decision is due before any more thinking
            self._decide(row, NO_TOKEN, settings, policy)
            if row.phase != THINKING or row.probe is not None:
                return None
            plan = SegmentPlan(plan.stop_texts, plan.boundary_texts, None)  # fed: think on
        row.plan = plan  # what the segment's stop texts mean when it comes back
        limit = limit if plan.max_tokens is None else min(limit, plan.max_tokens)
        stops = tuple(dict.fromkeys((*plan.stop_texts, *plan.boundary_texts, settings.think_end, *settings.stop_strings)))
        return SegmentRequest(
            row.prompt + row.thinking, limit, self._temperature(settings), settings.top_p, seed, stops,
            banned_ids=policy.banned_token_ids(),
        )

    def _absorb(self, row: _Row, segment: Segment, settings: DecodeSettings, policy: ThinkingPolicy) -> None:
        if segment.tokens < 0:
            segment.tokens = self.count(segment.text) + self.count(segment.matched_stop or "")
        stop_tokens = min(segment.tokens, self.count(segment.matched_stop or ""))
        if row.probe is not None:
            self._absorb_probe(row, segment, settings, policy)
            return
        if row.phase == ANSWER:  # generated tokens count, a matched stop string's included (as on HF)
            row.answer += segment.text
            row.answer_tokens += segment.tokens
            row.finish({"eos": "eos", "stop": "stop"}.get(segment.finish_reason, "length"))
            return
        stop = segment.matched_stop
        row.thinking += segment.text
        if segment.finish_reason == "eos" or stop in settings.stop_strings:  # a user stop string ends thinking too
            row.thinking_tokens += segment.tokens
            row.finish("eos" if segment.finish_reason == "eos" else "stop")
            return
        row.thinking_tokens += segment.tokens - stop_tokens
        if segment.finish_reason == "length":
            if row.room(settings) <= 0:
                row.finish("length")
            else:
                self._decide(row, NO_TOKEN, settings, policy)
            return
        if stop == settings.think_end:
            row.thinking += stop
            row.thinking_tokens += stop_tokens
            row.model_closed()
            return
        if stop in row.plan.boundary_texts:
            row.thinking += stop
            row.thinking_tokens += stop_tokens
            self._decide(row, NO_TOKEN, settings, policy)
        else:  # a trigger word: decided before it is fed
            row.held, row.held_tokens = stop or "", stop_tokens
            ids = self.tokenizer.encode(row.held, add_special_tokens=False)
            self._decide(row, ids[0] if len(ids) == 1 else NO_TOKEN, settings, policy)

    def _decide(self, row: _Row, token_id: int, settings: DecodeSettings, policy: ThinkingPolicy) -> None:
        step = row.decide(policy, self._view(row), token_id, settings, self.tokenizer)
        if isinstance(step, Probe):
            row.probe = step.spec
            row.probe_text = self.tokenizer.decode(list(step.spec.prefix_ids))
        elif isinstance(step, Forced):
            self._force(row, step)
        else:
            self._feed_held(row)

    def _feed_held(self, row: _Row) -> None:
        if row.held:
            row.thinking += row.held
            row.thinking_tokens += row.held_tokens
        row.held, row.held_tokens = None, 0

    @staticmethod
    def _force(row: _Row, forced: Forced) -> None:
        """A method closed thinking: the held trigger is dropped, the forced text written."""
        row.held, row.held_tokens = None, 0
        row.answer += forced.text

    def _absorb_probe(self, row: _Row, segment: Segment, settings: DecodeSettings, policy: ThinkingPolicy) -> None:
        scale = 1 / math.log(2) if settings.entropy_unit == "bits" else 1.0
        positions = segment.top_logprobs or [[0.0]]
        bounds = [topk_entropy_bounds(lps, self.vocab_size) for lps in positions]
        entropies = [topk_entropy(lps, self.vocab_size, self.estimator) * scale for lps in positions]
        max_probs = [math.exp(lps[0]) if lps else 0.0 for lps in positions]
        result = ProbeResult(entropies, max_probs, [], segment.text + (segment.matched_stop or ""), segment.token_texts or None)
        row.probe_tokens += len(row.probe.prefix_ids) + segment.tokens
        estimate = {
            "top_k": self.top_k,
            "estimator": self.estimator,
            "lower": [round(lo * scale, 6) for lo, _ in bounds],
            "upper": [round(up * scale, 6) for _, up in bounds],
        }
        forced = row.probed(policy, self._view(row), result, settings, self.tokenizer, {"entropy_estimate": estimate})
        row.probe, row.probe_text = None, ""
        if forced is not None:
            self._force(row, forced)
        else:
            self._feed_held(row)
