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
from ..signals.entropy import LOG_BASES, entropy_from_probabilities
from .row import ANSWER, DONE, THINKING, DecodeSettings, Forced, Row, RowResult, probe_entropy_temperature

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
    probe_chosen_probs: list[float] = field(default_factory=list)  # of each token the probe chose (raw distribution)
    probe_columns: list[int] = field(default_factory=list)
    probe_hidden: list[int] = field(default_factory=list)  # generated columns a probe's prefix rolled back
    probe_generator: torch.Generator | None = None  # sampled probes (ProbeSpec.temperature): their own stream
    seed: int = 0
    probe_position: int = 0
    token_entropies: list = field(default_factory=list)
    token_probs: list = field(default_factory=list)
    pending_stats: tuple | None = None
    generator: torch.Generator | None = None
    mask: torch.Tensor | None = None  # this row's attention-mask row in the current step (a view: writes reach the batch's)

    def hide_last(self, count: int) -> list[int]:
        """Hide the last `count` generated ids from the cache (their columns become holes) and
        move the position back over them; the hidden columns."""
        hidden = self.columns[len(self.columns) - count :]
        self.mask[hidden] = 0
        self.position -= count
        return hidden

    def forget_generated(self, count: int, text: str) -> None:
        """`Row.roll_back`'s hook: the rolled-back ids' cache columns become holes, and their
        columns and token statistics go with them."""
        self.hide_last(count)
        for log in (self.columns, self.token_entropies, self.token_probs):
            del log[len(log) - count :]


@dataclass
class _Batch:
    """One `run`: what every step reads (the settings, the policy and what follows from them once)
    and what the steps change (the rows still decoding, the KV cache, and the attention mask: one
    column per fed position, 0 for pads and discarded positions)."""

    settings: DecodeSettings
    policy: ThinkingPolicy
    think_end_id: int | None  # the end-of-thinking marker when it is one token (else found in the text)
    warpers: object  # sampling_warpers(settings)
    masks_logits: bool  # the policy overrides mask_logits: only then are logits copied and masked
    masks_answer: bool  # ... and its mask holds for answering rows too (ThinkingPolicy.masks_answer)
    wants_recent: bool  # ... and its mask_logits reads recent_ids
    rows: list[_Row]
    cache: object
    mask: torch.Tensor


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

    # -- the loop: one forward per step for every row still decoding -------------------------
    @torch.inference_mode()
    def run(self, prompts: list[list[int]], settings: DecodeSettings, policy: ThinkingPolicy,
            row_seeds: list[int] | None = None) -> list[RowResult]:
        rows = self._start_rows(prompts, settings, row_seeds)
        batch = self._start_batch(rows, settings, policy)
        while batch.rows:
            logits = self._mask_thinking_logits(batch, self._forward(batch))
            self._step_rows(batch, logits)
            self._drop_finished(batch)
        return [row.result(row.token_entropies, row.token_probs) for row in rows]

    @staticmethod
    def _start_rows(prompts: list[list[int]], settings: DecodeSettings, row_seeds: list[int] | None) -> list[_Row]:
        """One row per prompt, the prompt pending; a sampling row gets its own random stream."""
        rows = []
        for i, prompt in enumerate(prompts):
            row = _Row(index=i, max_new_tokens=settings.max_new_tokens, pending=list(prompt), prompt_ids=list(prompt),
                       seed=settings.seed + (row_seeds[i] if row_seeds else i))
            if settings.do_sample:
                row.generator = torch.Generator(device="cpu").manual_seed(row.seed)
            rows.append(row)
        return rows

    def _start_batch(self, rows: list[_Row], settings: DecodeSettings, policy: ThinkingPolicy) -> _Batch:
        """An empty cache and mask, and what holds for the whole run."""
        from transformers import DynamicCache

        # Only a policy that masks pays for it (two logits copies per step); only one that reads
        # recent ids gets them built (test policies may take logits only).
        masks = type(policy).mask_logits is not ThinkingPolicy.mask_logits
        wants_recent = masks and "recent_ids" in inspect.signature(policy.mask_logits).parameters
        return _Batch(settings, policy, self._single_token_id(settings.think_end), sampling_warpers(settings), masks,
                      masks and bool(policy.masks_answer), wants_recent, list(rows), DynamicCache(config=self.model.config),
                      torch.zeros((len(rows), 0), dtype=torch.long, device=self.device))

    def _next_chunk(self, batch: _Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every row's pending tokens, left-padded to one width: the ids, their positions and their
        mask columns (pads masked out for good). Each fed id's cache column is logged."""
        rows = batch.rows
        width = max(len(r.pending) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        positions = torch.zeros((len(rows), width), dtype=torch.long)
        chunk_mask = torch.zeros((len(rows), width), dtype=torch.long)
        start_column = batch.mask.shape[1]
        for b, row in enumerate(rows):
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
        return input_ids, positions, chunk_mask

    def _forward(self, batch: _Batch) -> torch.Tensor:
        """One forward over every row's chunk on the shared cache; each row's next-token logits."""
        input_ids, positions, chunk_mask = self._next_chunk(batch)
        batch.mask = torch.cat([batch.mask, chunk_mask.to(self.device)], dim=1)
        out = self.model(input_ids=input_ids.to(self.device), position_ids=positions.to(self.device), attention_mask=batch.mask,
                         past_key_values=batch.cache, use_cache=True, logits_to_keep=1)
        batch.cache = out.past_key_values
        return out.logits[:, -1, :]

    @staticmethod
    def _mask_thinking_logits(batch: _Batch, logits: torch.Tensor) -> torch.Tensor:
        """The policy's `mask_logits` on the rows that are thinking (not probing), and answering
        ones where the policy masks the answer too, if it masks at all."""
        phases = (THINKING, ANSWER) if batch.masks_answer else (THINKING,)
        thinking = [row.phase in phases and row.probe_spec is None for row in batch.rows]
        if not batch.masks_logits or not any(thinking):
            return logits
        selected = torch.tensor(thinking, device=logits.device)
        context = {}
        if batch.wants_recent:
            context["recent_ids"] = [row.token_ids[-RECENT_TOKENS:] for row, t in zip(batch.rows, thinking) if t]
        masked = batch.policy.mask_logits(logits[selected].clone(), **context)
        logits = logits.clone()
        logits[selected] = masked
        return logits

    def _step_rows(self, batch: _Batch, logits: torch.Tensor) -> None:
        """Each row takes its next token: a probe's, or a sampled one the policy decides on."""
        for b, row in enumerate(batch.rows):
            row.mask = batch.mask[b]
            if row.probe_spec is not None:
                self._step_probe(row, logits[b], batch)
            else:
                self._step_decode(row, logits[b], batch)

    def _drop_finished(self, batch: _Batch) -> None:
        """Finished rows leave the batch, their cache and mask rows with them."""
        keep = [b for b, row in enumerate(batch.rows) if row.phase != DONE]
        if len(keep) == len(batch.rows):
            return
        if keep:
            index = torch.tensor(keep, dtype=torch.long, device=self.device)
            batch.cache.batch_select_indices(index)
            batch.mask = batch.mask[index]
        batch.rows = [batch.rows[b] for b in keep]

    # -- one row ------------------------------------------------------------------------------
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

    def _step_decode(self, row: _Row, logits: torch.Tensor, batch: _Batch) -> None:
        """Sample a token; while thinking, the policy decides: feed it, probe first, or close thinking."""
        settings = batch.settings
        token = self._sample(logits, settings, row, batch.warpers)
        if settings.record_token_stats:
            probabilities = torch.softmax(logits.float(), dim=-1)
            entropy = float(torch.special.entr(probabilities).sum()) / LOG_BASES[settings.entropy_unit]
            row.pending_stats = (entropy, float(probabilities[token]))
        if token in settings.eos_token_ids:
            row.finish("eos")
            return
        if row.phase == THINKING:
            step = row.decide(batch.policy, self._view(row, token), token, settings, self.tokenizer)
            if isinstance(step, Probe):
                self._start_probe(row, step.spec, token)
                return
            if isinstance(step, Forced):
                self._force(row, step)
                return
        self._feed(row, token, batch)

    def _feed(self, row: _Row, token: int, batch: _Batch) -> None:
        """Feed a sampled token next step; first the length limit, stop strings and the model
        closing its own thinking."""
        settings, think_end_id = batch.settings, batch.think_end_id
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

    def _start_probe(self, row: _Row, spec, token: int) -> None:
        """Hold the sampled token and feed the probe prefix, tokenised in context (the generated ids
        it re-tokenises with are hidden until the probe is discarded)."""
        row.held_token, row.held_stats = token, row.pending_stats
        row.probe_spec, row.probe_position = spec, row.position
        row.probe_ids, row.probe_entropies, row.probe_max_probs, row.probe_columns = [], [], [], []
        row.probe_chosen_probs = []
        keep, prefix = row.probe_prefix(self.tokenizer, spec.prefix_ids)
        row.probe_hidden = row.hide_last(len(row.token_ids) - keep)
        row.pending, row.pending_kind = prefix, PROBE

    def _force(self, row: _Row, forced: Forced) -> None:
        """Feed a method's forced text instead of the sampled token (forced text has no stats); what
        it re-tokenises with was rolled back when the row closed (`Row.roll_back`)."""
        row.pending_stats = None
        row.pending, row.pending_kind = list(forced.ids), FORCED
        if row.phase == DONE:  # a final text, or no room left: written, never fed
            self._log_tokens(row)
            row.pending = []

    def _step_probe(self, row: _Row, logits: torch.Tensor, batch: _Batch) -> None:
        """One probe token: measured and chosen, then fed; at the probe's end the probe is discarded."""
        spec, settings = row.probe_spec, batch.settings
        # One softmax of the raw scores serves the entropy, the max-probability and the chosen
        # token's (DEER's official confidence); a second only when the entropy is read at a fixed
        # temperature (EAT's official code reads T-scaled scores).
        probabilities = torch.softmax(logits.float(), dim=-1)
        temperature = probe_entropy_temperature(spec, settings)
        measured = torch.softmax(logits.float() / temperature, dim=-1) if temperature else probabilities
        row.probe_entropies.append(float(entropy_from_probabilities(measured, settings.entropy_unit)))
        row.probe_max_probs.append(float(measured.amax(dim=-1)))
        token = self._probe_token(row, logits, settings)
        row.probe_ids.append(token)
        row.probe_chosen_probs.append(float(probabilities[token]))
        text = self.decode(row.probe_ids)
        if len(row.probe_ids) >= spec.max_tokens or token in settings.eos_token_ids or any(s in text for s in spec.stop_texts):
            self._end_probe(row, text, batch)
        else:
            row.pending, row.pending_kind = [token], PROBE

    @staticmethod
    def _probe_token(row: _Row, logits: torch.Tensor, settings: DecodeSettings) -> int:
        """Greedy; a sampled probe (Dynasor's official T / top-p) draws from the probe-only stream."""
        spec = row.probe_spec
        if spec.temperature <= 0:
            return int(torch.argmax(logits))
        if row.probe_generator is None:
            row.probe_generator = torch.Generator(device="cpu").manual_seed(row.seed + PROBE_STREAM)
        warped = sampling_warpers(replace(settings, temperature=spec.temperature, top_p=spec.top_p, top_k=0, min_p=0.0))
        probabilities = torch.softmax(warped(None, logits.float()[None])[0], dim=-1)
        return int(torch.multinomial(probabilities.cpu(), 1, generator=row.probe_generator))

    def _end_probe(self, row: _Row, text: str, batch: _Batch) -> None:
        """Discard the probe (its columns become holes, what its prefix hid comes back, the position
        is the one before it), then ask the policy: cut (forced text), or feed the held token."""
        row.probe_tokens += 1  # the last probe token was decoded but never fed
        row.mask[row.probe_columns] = 0
        row.mask[row.probe_hidden] = 1
        row.position = row.probe_position
        result = ProbeResult(row.probe_entropies, row.probe_max_probs, row.probe_ids, text, chosen_probs=row.probe_chosen_probs)
        forced = row.probed(batch.policy, self._view(row, row.held_token), result, batch.settings, self.tokenizer)
        held, row.held_token, row.probe_spec = row.held_token, None, None
        if forced is not None:
            self._force(row, forced)
        else:
            row.pending_stats = row.held_stats
            self._feed(row, held, batch)
