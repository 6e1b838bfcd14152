"""The thinking loop for backends that generate text in segments: vLLM and OpenAI-compatible
servers. Same `ThinkingPolicy` objects as the HF engine, same decisions, different grain.

Per row, a small state machine: think until the policy's `SegmentPlan` says a decision may
fall (a trigger word as a stop string, a step end, a token budget) or the model closes
thinking itself → ask `on_token` → feed, probe, or close thinking → answer. Each row sends its
next request as soon as its last one returns, with no barrier between rows: vLLM's engine
batches whatever is in flight, a server gets them concurrently (`segments.py`). What follows
a policy's answer is `row.py`'s, shared with the HF engine.

What differs from the HF engine, and is recorded or documented:
- probes see top-k log-probabilities only, so their entropies are top-k estimates with a
  bracket (`topk_entropy.py`); max-probabilities and probe answers are exact;
- a trigger is matched as text (a stop string) rather than as a token id. Every request
  re-sends the context as token ids: the prompt encoded once, then the ids the backend
  generated, then forced text tokenised in context (`row.py`), the same ids the HF engine
  feeds. A stop string that ends inside a token is split off by re-encoding the text around
  it; a backend that returns no ids (a text-only server) gets text, and its ids are the
  text re-encoded;
- NoWait's ban is a logit bias of -100, not -inf, and its context bans (`mask_logits`'s
  `recent_ids`) are not applied (with `masks_answer` the bias goes with answer requests too);
- a probe's `entropy_at_sampling_temperature` (EAT) is applied to the raw top-k
  log-probabilities the servers return, with the tail's tempered mass estimated
  (`topk_entropy.tempered_topk_logprobs`);
- a probe's record says how much of its context the backend served from its prefix cache
  (`prefix_cache`), where the backend reports it;
- the probability of each token a probe chose (`ProbeResult.chosen_probs`, DEER's official
  confidence) is the backend's sampled-token logprob (`Segment.token_logprobs`); a greedy probe
  without them uses the top-1, a sampled one without them reports none (the probe record says so);
- a probe goes out with the continuation the row sends if the policy goes on (`speculate`), and
  its record says whether that continuation was used (`speculation`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from ..policy import Probe, ProbeResult, ProbeSpec, SegmentPlan, ThinkingPolicy
from ..signals.topk_entropy import DEFAULT_ESTIMATOR, tempered_topk_logprobs, topk_entropy, topk_entropy_bounds
from .row import ANSWER, DONE, THINKING, DecodeSettings, Forced, Row, RowResult, decode, probe_entropy_temperature
from .segments import RequestFailed, Segment, SegmentBackend, SegmentRequest, SegmentStream, open_stream

NO_TOKEN = -1  # `on_token`'s token id when no sampled token is under decision (a budget, a step end)
TAIL_CHARS = 64  # characters of thinking a policy's `RowView.tail_text()` sees


def speculation_key(index: int) -> int:
    """The stream key of row `index`'s speculative continuation: -1 - index, apart from the
    row's own key (its index), so both can be in flight at once."""
    return ~index


@dataclass
class _Speculation:
    """The continuation sent alongside a probe, before the policy has decided on it."""

    request: SegmentRequest
    answer: Segment | RequestFailed | None = None  # back before the decision: held until then


@dataclass
class _Row(Row):
    """A row as text: what the backend is sent next."""

    prompt: str = ""
    prompt_ids: list[int] = field(default_factory=list)
    seed: int = 0
    thinking: str = ""
    answer: str = ""
    held: str | None = None  # a trigger text matched as a stop string, not yet fed
    held_tokens: int = 0
    held_ids: list[int] = field(default_factory=list)
    plan: SegmentPlan = field(default_factory=SegmentPlan)  # of the last thinking request
    probe: ProbeSpec | None = None
    probe_text: str = ""
    probe_keep: int = 0  # generated ids the probe's context keeps (`row.in_context`)
    probe_fed: list[int] = field(default_factory=list)  # its prefix ids, tokenised in context
    requests: int = 0
    awaiting: int | None = None  # the stream key of the request whose answer the row needs next
    speculation: _Speculation | None = None

    def forget_generated(self, count: int, text: str) -> None:
        """`Row.roll_back`'s hook: the rolled-back text leaves the thinking and starts the answer,
        ahead of the forced text (a thinking that no longer ends with it keeps it)."""
        if text and self.thinking.endswith(text):
            self.thinking = self.thinking[: len(self.thinking) - len(text)]
            self.answer += text


class SegmentThinkingLoop:
    """Runs rows through a `ThinkingPolicy` on a segment backend (`complete(requests)`).

    `speculate` (issue 29): a row that sends a probe also sends, at once, the request it will send
    next if the policy decides to go on, so the probe, the decision and the continuation no longer
    take three waits in turn. When the decision is made, the row's real next request is computed
    as always; if it is the speculative one (equal `SegmentRequest`s give equal answers: each
    carries its row's seed for its position), the row takes that request's answer, else the
    speculative request is cancelled and its answer, if it came, is dropped. Records, texts and
    ids are those of a run without it; only the wall time changes. The price is paid where it is
    not used (a cut, or a probe answer that changes the next request): the speculative
    continuation is decoded, up to its `max_tokens`, then discarded (each probe's record says so:
    `speculation`). Only streams that run requests side by side speculate
    (`SegmentStream.concurrent`); in rounds it would only add tokens."""

    def __init__(self, backend: SegmentBackend, tokenizer, top_k: int = 20, estimator: str = DEFAULT_ESTIMATOR,
                 speculate: bool = True):
        self.backend = backend
        self.tokenizer = tokenizer
        self.vocab_size = len(tokenizer)
        self.top_k, self.estimator = top_k, estimator  # logprobs per probe position; topk_entropy.py
        self.speculate = speculate

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False) if text else []

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def run(self, prompts: list[str], settings: DecodeSettings, policy: ThinkingPolicy, row_seeds: list[int]) -> list[tuple[RowResult, str]]:
        """(accounting, generated text) per prompt. Each row advances as soon as its own request
        returns (`segments.py`: the backend's stream; rounds for a batch-only backend): a row at
        a trigger sends its probe while the others decode. What a row generates does not depend
        on that order: each request carries the row's own seed for its position in the row."""
        rows = [_Row(i, settings.max_new_tokens, prompt=prompt, prompt_ids=self.encode(prompt), seed=settings.seed + seed)
                for i, (prompt, seed) in enumerate(zip(prompts, row_seeds))]
        stream = open_stream(self.backend)
        speculate = self.speculate and stream.concurrent
        try:
            for row in rows:
                self._send_next(stream, row, settings, policy, speculate)
            while any(row.awaiting is not None for row in rows):
                # Speculative answers first: one that comes in the same batch as its probe's answer is
                # then held before the decision, never mistaken for the next speculation's.
                for key, answer in sorted(stream.finished(), key=lambda item: item[0] >= 0):
                    row = rows[key if key >= 0 else ~key]  # ~ undoes speculation_key
                    if key != row.awaiting:
                        if row.speculation is not None and key == speculation_key(row.index):
                            row.speculation.answer = answer  # back before its probe's decision
                        continue  # else a cancelled request's late answer (streams drop those): never absorbed
                    while answer is not None:  # an adopted speculation already back is taken at once
                        answer = self._take(stream, row, answer, settings, policy, speculate)
        finally:
            stream.close()
        return [(row.result(), row.thinking + row.answer) for row in rows]

    def _take(self, stream: SegmentStream, row: _Row, answer: Segment | RequestFailed, settings: DecodeSettings,
              policy: ThinkingPolicy, speculate: bool) -> Segment | RequestFailed | None:
        """Absorb the answer the row awaited and send its next request; the answer of an adopted
        speculation when it is already back (None: the row waits, or is done)."""
        row.awaiting = None
        if isinstance(answer, RequestFailed):
            row.fail(answer.reason)
            if row.speculation is not None:
                self._drop_speculation(stream, row)
            return None
        row.requests += 1
        self._absorb(row, answer, settings, policy)
        return self._send_next(stream, row, settings, policy, speculate)

    def _send_next(self, stream: SegmentStream, row: _Row, settings: DecodeSettings, policy: ThinkingPolicy,
                   speculate: bool) -> Segment | RequestFailed | None:
        """Submit the row's next request, if it has one. Just after a probe's decision, the
        speculative continuation is that request (the row awaits it; its answer if already back)
        or is dropped. With `speculate`, a probe goes out with its likely continuation."""
        request = self._following_request(row, settings, policy)
        if row.speculation is not None:
            used = request == row.speculation.request
            row.probes[-1]["speculation"] = self._speculation_record(row.speculation, used)
            if used:
                answer, row.speculation = row.speculation.answer, None
                row.awaiting = speculation_key(row.index)
                return answer
            self._drop_speculation(stream, row)
        if request is None:
            return None
        stream.submit(row.index, request)
        row.awaiting = row.index
        if speculate and row.probe is not None:
            continuation = self._following_request(self._as_if_continued(row), settings, policy)
            if continuation is not None:
                stream.submit(speculation_key(row.index), continuation)
                row.speculation = _Speculation(continuation)
        return None

    def _following_request(self, row: _Row, settings: DecodeSettings, policy: ThinkingPolicy) -> SegmentRequest | None:
        """The row's next request; None when the row is done. A decision taken before any request
        (a budget already reached) may leave none to send yet: ask again."""
        while row.phase != DONE:
            request = self._next_request(row, settings, policy)
            if request is not None:
                return request
        return None

    # -- speculation (issue 29) ---------------------------------------------------------------
    def _as_if_continued(self, row: _Row) -> _Row:
        """A copy of a row whose probe is going out, as the row will stand if the policy goes on:
        the probe's answer counted (the next request's seed), an empty record standing for the
        probe's (`probes_done`), the probe ended and the held trigger fed. What `on_probe` writes to the
        row's state is not known before the answer; where it changes the next request, the
        speculative one is simply not used. The ids and the records are copied flat (a deep copy of
        thousands of ids costs milliseconds per probe): the copy only appends to them or trims them."""
        guess = copy.deepcopy(row, {id(row.token_ids): list(row.token_ids), id(row.probes): list(row.probes)})
        guess.requests += 1
        guess.probes.append({})
        self._end_probe(guess, None)
        return guess

    @staticmethod
    def _drop_speculation(stream: SegmentStream, row: _Row) -> None:
        """Not wanted: cancelled while in flight, its answer dropped if it is back."""
        if row.speculation.answer is None:
            stream.cancel(speculation_key(row.index))
        row.speculation = None

    def _speculation_record(self, speculation: _Speculation, used: bool) -> dict:
        """For the probe's record: whether its speculative continuation was used, and what one
        discarded cost: its tokens when it had come back, else None (cancelled while decoding:
        at most its `max_tokens`)."""
        if used:
            return {"used": True}
        answer = speculation.answer
        tokens = self._generated_tokens(answer) if isinstance(answer, Segment) else None
        return {"used": False, "discarded_tokens": tokens, "max_tokens": speculation.request.max_tokens}

    # -- one row ------------------------------------------------------------------------
    @staticmethod
    def _view(row: _Row):
        return row.view(row.held or "", None, lambda: row.thinking[-TAIL_CHARS:])

    @staticmethod
    def _temperature(settings: DecodeSettings) -> float:
        return settings.temperature if settings.do_sample else 0.0

    @staticmethod
    def _sampling(settings: DecodeSettings) -> dict:
        """What a thinking or answer request carries besides temperature and top-p (probes
        decode greedily without them, as on the HF engine)."""
        return {"top_k": settings.top_k, "min_p": settings.min_p, "presence_penalty": settings.presence_penalty,
                "repetition_penalty": settings.repetition_penalty}

    def _next_request(self, row: _Row, settings: DecodeSettings, policy: ThinkingPolicy) -> SegmentRequest | None:
        seed = row.seed + 7919 * row.requests
        if row.probe is not None:
            return SegmentRequest(
                prompt=row.prompt + row.thinking + row.probe_text,
                prompt_ids=(*row.prompt_ids, *row.token_ids[: row.probe_keep], *row.probe_fed),
                max_tokens=row.probe.max_tokens,
                stop=tuple(row.probe.stop_texts),
                top_logprobs=self.top_k,
                temperature=row.probe.temperature,  # a sampled probe (ProbeSpec.temperature); 0: greedy
                top_p=row.probe.top_p,
                seed=seed if row.probe.temperature > 0 else None,
            )
        limit = row.room(settings)
        if limit <= 0:
            row.finish("length")
            return None
        if row.phase == ANSWER:
            banned = policy.banned_token_ids() if policy.masks_answer else frozenset()
            return SegmentRequest(row.prompt + row.thinking + row.answer, limit, self._temperature(settings), settings.top_p, seed,
                                  settings.stop_strings, banned_ids=banned, prompt_ids=(*row.prompt_ids, *row.token_ids),
                                  **self._sampling(settings))
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
            banned_ids=policy.banned_token_ids(), prompt_ids=(*row.prompt_ids, *row.token_ids), **self._sampling(settings),
        )

    def _generated_tokens(self, segment: Segment) -> int:
        """The segment's generated tokens, a matched stop text's included (counted where unknown)."""
        if segment.tokens < 0:
            return self.count(segment.text) + self.count(segment.matched_stop or "")
        return segment.tokens

    def _absorb(self, row: _Row, segment: Segment, settings: DecodeSettings, policy: ThinkingPolicy) -> None:
        segment.tokens = self._generated_tokens(segment)
        stop_tokens = min(segment.tokens, self.count(segment.matched_stop or ""))
        if row.probe is not None:
            self._absorb_probe(row, segment, settings, policy)
            return
        ids = segment.token_ids if segment.token_ids is not None else self.encode(segment.text + (segment.matched_stop or ""))
        if row.phase == ANSWER:  # generated tokens count, a matched stop string's included (as on HF)
            row.answer += segment.text
            row.token_ids += ids
            row.answer_tokens += segment.tokens
            row.finish({"eos": "eos", "stop": "stop"}.get(segment.finish_reason, "length"))
            return
        stop = segment.matched_stop
        row.thinking += segment.text
        if segment.finish_reason == "eos" or stop in settings.stop_strings:  # a user stop string ends thinking too
            row.token_ids += ids
            row.thinking_tokens += segment.tokens
            row.finish("eos" if segment.finish_reason == "eos" else "stop")
            return
        row.thinking_tokens += segment.tokens - stop_tokens
        if segment.finish_reason == "length" or stop in (settings.think_end, *row.plan.boundary_texts):
            row.token_ids += ids  # the stop text, if any, is fed
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
            text_ids, row.held_ids = self._split(ids, segment.text, stop or "")
            row.token_ids += text_ids
            row.held, row.held_tokens = stop or "", stop_tokens
            trigger = self.encode(row.held)
            self._decide(row, trigger[0] if len(trigger) == 1 else NO_TOKEN, settings, policy)

    @staticmethod
    def _chosen_probs(spec: ProbeSpec, segment: Segment, raw: list[list[float]]) -> list[float] | None:
        """The probability of each token the probe chose: the backend's sampled-token logprobs; for
        a greedy probe without them, the top-1 (what it chose); else None."""
        if segment.token_logprobs:
            return [math.exp(lp) for lp in segment.token_logprobs]
        if spec.temperature <= 0 and segment.top_logprobs:
            return [math.exp(lps[0]) if lps else 0.0 for lps in raw]
        return None

    def _split(self, ids: list[int], text: str, stop: str) -> tuple[list[int], list[int]]:
        """The ids of a segment's text and of the stop text after it: the generated ids where
        they decode to exactly the text; where the stop began inside a token, the ids up to
        that token, the rest of the text re-encoded, and the stop text encoded alone."""
        for keep in range(len(ids), max(-1, len(ids) - 9), -1):  # the stop's few tokens
            if decode(self.tokenizer, ids[:keep]) == text:
                return ids[:keep], ids[keep:]
        keep = len(ids)
        while keep and not text.startswith(decode(self.tokenizer, ids[:keep])):
            keep -= 1
        return ids[:keep] + self.encode(text[len(decode(self.tokenizer, ids[:keep])) :]), self.encode(stop)

    def _decide(self, row: _Row, token_id: int, settings: DecodeSettings, policy: ThinkingPolicy) -> None:
        step = row.decide(policy, self._view(row), token_id, settings, self.tokenizer)
        if isinstance(step, Probe):
            row.probe = step.spec
            row.probe_text = decode(self.tokenizer, step.spec.prefix_ids)
            row.probe_keep, row.probe_fed = row.probe_prefix(self.tokenizer, step.spec.prefix_ids)
        elif isinstance(step, Forced):
            self._force(row, step)
        else:
            self._feed_held(row)

    def _feed_held(self, row: _Row) -> None:
        if row.held:
            row.thinking += row.held
            row.thinking_tokens += row.held_tokens
            row.token_ids += row.held_ids
        row.held, row.held_tokens, row.held_ids = None, 0, []

    @staticmethod
    def _force(row: _Row, forced: Forced) -> None:
        """A method closed thinking (what the forced text re-tokenises with was rolled back by
        `Row.roll_back`): the held trigger is dropped and the forced ids are fed."""
        row.held, row.held_tokens, row.held_ids = None, 0, []
        row.answer += forced.text[len(forced.rolled_back_text) :]
        row.token_ids += forced.ids

    def _absorb_probe(self, row: _Row, segment: Segment, settings: DecodeSettings, policy: ThinkingPolicy) -> None:
        scale = 1 / math.log(2) if settings.entropy_unit == "bits" else 1.0
        raw = segment.top_logprobs or [[0.0]]
        temperature = probe_entropy_temperature(row.probe, settings)
        positions = [tempered_topk_logprobs(lps, temperature) for lps in raw] if temperature else raw
        bounds = [topk_entropy_bounds(lps, self.vocab_size) for lps in positions]
        entropies = [topk_entropy(lps, self.vocab_size, self.estimator) * scale for lps in positions]
        max_probs = [math.exp(lps[0]) if lps else 0.0 for lps in positions]
        chosen = self._chosen_probs(row.probe, segment, raw)
        result = ProbeResult(entropies, max_probs, [], segment.text + (segment.matched_stop or ""), segment.token_texts or None, chosen)
        row.probe_tokens += len(row.probe_fed) + segment.tokens
        estimate = {
            "top_k": self.top_k,
            "estimator": self.estimator,
            "lower": [round(lo * scale, 6) for lo, _ in bounds],
            "upper": [round(up * scale, 6) for _, up in bounds],
        }
        if temperature:
            estimate["temperature"] = temperature  # the tail's tempered mass estimated (topk_entropy.py)
        if chosen is None:
            estimate["chosen_probs"] = "not returned by the backend (a sampled probe)"
        extra = {"entropy_estimate": estimate}
        if segment.cached_tokens is not None:  # the probe's context served from the prefix cache (issue 29)
            extra["prefix_cache"] = {"cached_tokens": segment.cached_tokens,
                                     "prompt_tokens": len(row.prompt_ids) + row.probe_keep + len(row.probe_fed)}
        self._end_probe(row, row.probed(policy, self._view(row), result, settings, self.tokenizer, extra))

    def _end_probe(self, row: _Row, forced: Forced | None) -> None:
        """The probe is decided: a cut feeds the forced text, going on feeds the held trigger."""
        row.probe, row.probe_text = None, ""
        if forced is not None:
            self._force(row, forced)
        else:
            self._feed_held(row)
