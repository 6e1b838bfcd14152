"""The shared thinking loop (HF transformers backend): one decode loop that owns the KV cache.

Rows of a batch advance independently in one forward per step. Each row feeds a chunk of
its own pending tokens (one sampled token, a probe prefix, or the close-thinking text); rows
with shorter chunks are left-padded inside the chunk and those pad columns are masked out of
the attention for good. A probe is decoded on top of the row's cache and then discarded by
masking its columns ("holes"), so it costs O(probe tokens) and never re-prefills the context;
positions are tracked per row so the text after a discarded probe sees exactly the cache it
would have seen without it. Finished rows leave the batch (their cache rows are dropped).

What happens once a policy has answered (the action, the close, the answer budget, the probe
record, the result) is `row.py`'s, shared with the segment loop (vLLM, a server), which runs
the same `ThinkingPolicy` objects; this file only feeds tokens and keeps the cache.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace

import torch

from ..policy import Probe, ProbeResult, ProbeSpec, ThinkingPolicy
from ..signals.entropy import LOG_BASES, entropy_from_logits, max_probability
from .row import ANSWER, DONE, THINKING, DecodeSettings, Forced, Row, RowResult

# Tokens decoded to look for stop strings / the end-of-thinking marker at each step; a stop
# string must first appear within the newest tokens, so a window suffices.
TEXT_WINDOW_TOKENS = 24
# Tokens decoded for a policy's `RowView.tail_text()`.
TAIL_TOKENS = 4
# Last fed ids of each thinking row passed to `ThinkingPolicy.mask_logits` (NoWait's
# multi-token keyword bans look back a few tokens).
RECENT_TOKENS = 16
PROBE_STREAM = 104729  # offset of a row's sampled-probe random stream from its own (any fixed number)
PROMPT, FORCED, PROBE = "prompt", "forced", "probe"  # kinds of pending chunks besides THINKING / ANSWER


@dataclass
class _Row(Row):
    """A row on the KV cache: what it feeds next and the ids it generated."""

    pending: list[int] = field(default_factory=list)
    pending_kind: str = PROMPT
    prompt_ids: list[int] = field(default_factory=list)  # with token_ids, the repetition penalty's context
    position: int = 0
    columns: list[int] = field(default_factory=list)  # the cache column of each generated id
    held_token: int | None = None
    held_stats: tuple | None = None
    probe_spec: ProbeSpec | None = None
    probe_ids: list[int] = field(default_factory=list)
    probe_entropies: list[float] = field(default_factory=list)
    probe_max_probs: list[float] = field(default_factory=list)
    probe_columns: list[int] = field(default_factory=list)
    probe_hidden: list[int] = field(default_factory=list)  # generated columns a probe's prefix rolled back
    probe_generator: torch.Generator | None = None  # sampled probes (ProbeSpec.temperature): their own stream
    seed: int = 0
    probe_position: int = 0
    token_entropies: list = field(default_factory=list)
    token_probs: list = field(default_factory=list)
    pending_stats: tuple | None = None
    generator: torch.Generator | None = None


def sampling_warpers(settings: DecodeSettings):
    """transformers' warpers for sampling, in vLLM's order (temperature, min-p, then top-k and
    top-p), so a method samples from the distribution the vLLM and OpenAI backends use."""
    from transformers import LogitsProcessorList, MinPLogitsWarper, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    chain = LogitsProcessorList()
    if settings.temperature not in (0.0, 1.0):
        chain.append(TemperatureLogitsWarper(settings.temperature))
    if settings.min_p > 0:
        chain.append(MinPLogitsWarper(settings.min_p))
    if settings.top_k > 0:
        chain.append(TopKLogitsWarper(settings.top_k))
    if settings.top_p < 1.0:
        chain.append(TopPLogitsWarper(settings.top_p))
    return chain


def penalize(logits: torch.Tensor, settings: DecodeSettings, context_ids: list[int], generated_ids: list[int]) -> torch.Tensor:
    """vLLM's penalties, applied before sampling and before greedy argmax alike: the repetition
    penalty (CTRL, arXiv:1909.05858; transformers' processor) over prompt and output tokens, and
    the presence penalty (OpenAI's definition) once for each distinct token of the output."""
    if settings.repetition_penalty != 1.0 and context_ids:
        from transformers import RepetitionPenaltyLogitsProcessor

        penalty = RepetitionPenaltyLogitsProcessor(settings.repetition_penalty)
        logits = penalty(torch.tensor([context_ids], device=logits.device), logits[None])[0]
    if settings.presence_penalty and generated_ids:
        logits = logits.clone()
        logits[torch.tensor(sorted(set(generated_ids)), device=logits.device)] -= settings.presence_penalty
    return logits


class ThinkingEngine:
    """Runs a batch of prompts through a `ThinkingPolicy` on a HF causal LM."""

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    # -- text helpers -------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def _single_token_id(self, text: str) -> int | None:
        ids = self.encode(text)
        return ids[0] if len(ids) == 1 else None

    # -- sampling ----------------------------------------------------------------------
    @staticmethod
    def _sample(logits: torch.Tensor, settings: DecodeSettings, row: _Row, warpers) -> int:
        if settings.repetition_penalty != 1.0 or settings.presence_penalty:
            logits = penalize(logits.float(), settings, row.prompt_ids + row.token_ids, row.token_ids)
        if not settings.do_sample or settings.temperature <= 0:
            return int(torch.argmax(logits))
        probabilities = torch.softmax(warpers(None, logits.float()[None])[0], dim=-1)
        return int(torch.multinomial(probabilities, 1, generator=row.generator))

    # -- the loop ----------------------------------------------------------------------
    @torch.inference_mode()
    def run(
        self,
        prompts: list[list[int]],
        settings: DecodeSettings,
        policy: ThinkingPolicy,
        row_seeds: list[int] | None = None,
    ) -> list[RowResult]:
        from transformers import DynamicCache

        think_end_id = self._single_token_id(settings.think_end)
        warpers = sampling_warpers(settings)
        # Only a policy that masks pays for it (two logits copies per step); only one that reads
        # recent ids gets them built (test policies may take logits only).
        masks = type(policy).mask_logits is not ThinkingPolicy.mask_logits
        wants_recent = masks and "recent_ids" in inspect.signature(policy.mask_logits).parameters
        rows = []
        for i, prompt in enumerate(prompts):
            row = _Row(index=i, max_new_tokens=settings.max_new_tokens, pending=list(prompt), prompt_ids=list(prompt),
                       seed=settings.seed + (row_seeds[i] if row_seeds else i))
            if settings.do_sample:
                row.generator = torch.Generator(device="cpu").manual_seed(row.seed)
            rows.append(row)
        active = list(rows)
        cache = DynamicCache(config=self.model.config)
        mask = torch.zeros((len(active), 0), dtype=torch.long, device=self.device)

        while active:
            width = max(len(r.pending) for r in active)
            input_ids = torch.full((len(active), width), self.pad_id, dtype=torch.long)
            positions = torch.zeros((len(active), width), dtype=torch.long)
            chunk_mask = torch.zeros((len(active), width), dtype=torch.long)
            start_column = mask.shape[1]
            for b, row in enumerate(active):
                n = len(row.pending)
                input_ids[b, width - n :] = torch.tensor(row.pending)
                positions[b, width - n :] = torch.arange(row.position, row.position + n)
                positions[b, : width - n] = row.position  # masked pads; any valid position
                chunk_mask[b, width - n :] = 1
                fed_columns = range(start_column + width - n, start_column + width)
                if row.pending_kind == PROBE:
                    row.probe_columns.extend(fed_columns)
                elif row.pending_kind != PROMPT:
                    row.columns.extend(fed_columns)
                self._account_fed(row, n)
            mask = torch.cat([mask, chunk_mask.to(self.device)], dim=1)
            out = self.model(
                input_ids=input_ids.to(self.device),
                position_ids=positions.to(self.device),
                attention_mask=mask,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            cache = out.past_key_values
            logits = out.logits[:, -1, :]
            if masks and any(r.phase == THINKING and r.probe_spec is None for r in active):
                thinking = torch.tensor([r.phase == THINKING and r.probe_spec is None for r in active])
                context = {}
                if wants_recent:
                    context["recent_ids"] = [r.token_ids[-RECENT_TOKENS:] for r, t in zip(active, thinking.tolist()) if t]
                masked = policy.mask_logits(logits[thinking.to(logits.device)].clone(), **context)
                logits = logits.clone()
                logits[thinking.to(logits.device)] = masked

            for b, row in enumerate(active):
                if row.probe_spec is not None:
                    self._step_probe(row, logits[b], mask[b], settings, policy, think_end_id)
                else:
                    self._step_decode(row, logits[b], mask[b], settings, policy, think_end_id, warpers)

            keep = [b for b, r in enumerate(active) if r.phase != DONE]
            if len(keep) < len(active):
                index = torch.tensor(keep, dtype=torch.long, device=self.device)
                if keep:
                    cache.batch_select_indices(index)
                    mask = mask[index]
                active = [active[b] for b in keep]
        return [r.result(r.token_entropies, r.token_probs) for r in rows]

    def _account_fed(self, row: _Row, n: int) -> None:
        """Update a row's position and token log for the chunk just fed."""
        row.position += n
        if row.pending_kind == PROBE:
            row.probe_tokens += n
        elif row.pending_kind != PROMPT:
            self._log_tokens(row)
        row.pending = []

    def _view(self, row: _Row, token: int):
        return row.view(self.decode([token]), row.token_ids[-1] if row.token_ids else None,
                        lambda: self.decode(row.token_ids[-TAIL_TOKENS:]))

    def _step_decode(self, row, logits, row_mask, settings, policy, think_end_id, warpers) -> None:
        token = self._sample(logits, settings, row, warpers)
        if settings.record_token_stats:
            probabilities = torch.softmax(logits.float(), dim=-1)
            entropy = float(torch.special.entr(probabilities).sum()) / LOG_BASES[settings.entropy_unit]
            row.pending_stats = (entropy, float(probabilities[token]))
        if token in settings.eos_token_ids:
            row.finish("eos")
            return
        if row.phase == THINKING:
            step = row.decide(policy, self._view(row, token), token, settings, self.tokenizer)
            if isinstance(step, Probe):
                self._start_probe(row, step.spec, token, row_mask)
                return
            if isinstance(step, Forced):
                self._force(row, step, row_mask)
                return
        self._feed(row, token, settings, think_end_id)

    def _feed(self, row, token, settings, think_end_id) -> None:
        """Feed a sampled token next step; first the length limit, stop strings and the model
        closing its own thinking."""
        row.pending, row.pending_kind = [token], row.phase
        if row.room(settings) <= 1:  # the token is fed next step: count it now
            self._finish_with_pending(row, "length")
            return
        needs_text = settings.stop_strings or (row.phase == THINKING and think_end_id is None)
        if row.phase == THINKING and think_end_id is not None and token == think_end_id:
            row.model_closed()
            return
        if needs_text:
            window = self.decode((row.token_ids + [token])[-TEXT_WINDOW_TOKENS:])
            if any(s and s in window for s in settings.stop_strings):
                self._finish_with_pending(row, "stop")
                return
            if row.phase == THINKING and settings.think_end in window:
                row.model_closed()

    @staticmethod
    def _log_tokens(row: _Row) -> None:
        """Append the pending tokens to the row's output (with their stats if recorded)."""
        n = len(row.pending)
        row.token_ids.extend(row.pending)
        if row.pending_kind == THINKING:
            row.thinking_tokens += n
        elif row.pending_kind == ANSWER:
            row.answer_tokens += n  # forced text was counted when the row closed
        stats = row.pending_stats if n == 1 and row.pending_stats else (None, None)
        row.token_entropies.extend([stats[0]] + [None] * (n - 1))
        row.token_probs.extend([stats[1]] + [None] * (n - 1))
        row.pending_stats = None

    def _finish_with_pending(self, row: _Row, reason: str) -> None:
        """End the row now; its pending tokens are part of the output but need no forward."""
        self._log_tokens(row)
        row.pending = []
        row.finish(reason)

    def _rewind(self, row: _Row, row_mask, n: int) -> list[int]:
        """Hide the last `n` generated ids from the cache (their columns become holes) and move
        the row's position back over them; the hidden columns."""
        hidden = row.columns[len(row.columns) - n :]
        row_mask[hidden] = 0
        row.position -= n
        return hidden

    def _start_probe(self, row: _Row, spec, token: int, row_mask) -> None:
        """Hold the sampled token and feed the probe prefix, tokenised in context."""
        row.held_token, row.held_stats = token, row.pending_stats
        row.probe_spec, row.probe_position = spec, row.position
        row.probe_ids, row.probe_entropies, row.probe_max_probs, row.probe_columns = [], [], [], []
        keep, prefix = row.probe_prefix(self.tokenizer, spec.prefix_ids)
        row.probe_hidden = self._rewind(row, row_mask, len(row.token_ids) - keep)
        row.pending, row.pending_kind = prefix, PROBE

    def _force(self, row: _Row, forced: Forced, row_mask) -> None:
        """Feed a method's forced text (the sampled token is dropped; forced text has no stats);
        the generated ids it re-tokenises with are rolled back first (`row.py`)."""
        if forced.rollback:
            self._rewind(row, row_mask, forced.rollback)
            for log in (row.columns, row.token_entropies, row.token_probs):
                del log[len(log) - forced.rollback :]
        row.pending_stats = None
        row.pending, row.pending_kind = list(forced.ids), FORCED
        if row.phase == DONE:  # a final text, or no room left: written, never fed
            self._log_tokens(row)
            row.pending = []

    def _step_probe(self, row, logits, row_mask, settings, policy, think_end_id) -> None:
        spec = row.probe_spec
        measured = logits
        if spec.entropy_at_sampling_temperature and settings.do_sample and settings.temperature > 0:
            measured = logits.float() / settings.temperature  # EAT's official code reads T-scaled scores
        row.probe_entropies.append(float(entropy_from_logits(measured, settings.entropy_unit)))
        row.probe_max_probs.append(float(max_probability(measured)))
        token = int(torch.argmax(logits))
        if spec.temperature > 0:  # a sampled probe (Dynasor's official T / top-p), from the probe-only stream
            if row.probe_generator is None:
                row.probe_generator = torch.Generator(device="cpu").manual_seed(row.seed + PROBE_STREAM)
            warped = sampling_warpers(replace(settings, temperature=spec.temperature, top_p=spec.top_p, top_k=0, min_p=0.0))
            probabilities = torch.softmax(warped(None, logits.float()[None])[0], dim=-1)
            token = int(torch.multinomial(probabilities.cpu(), 1, generator=row.probe_generator))
        row.probe_ids.append(token)
        text = self.decode(row.probe_ids)
        done = len(row.probe_ids) >= spec.max_tokens or token in settings.eos_token_ids
        done = done or any(s in text for s in spec.stop_texts)
        if not done:
            row.pending, row.pending_kind = [token], PROBE
            return
        row.probe_tokens += 1  # the last probe token was decoded but never fed
        # Discard the probe: its columns become holes, what its prefix rolled back comes back,
        # and the row's position is the one before the probe.
        row_mask[row.probe_columns] = 0
        row_mask[row.probe_hidden] = 1
        row.position = row.probe_position
        result = ProbeResult(row.probe_entropies, row.probe_max_probs, row.probe_ids, text)
        forced = row.probed(policy, self._view(row, row.held_token), result, settings, self.tokenizer)
        held, row.held_token, row.probe_spec = row.held_token, None, None
        if forced is not None:
            self._force(row, forced, row_mask)
        else:
            row.pending_stats = row.held_stats
            self._feed(row, held, settings, think_end_id)
