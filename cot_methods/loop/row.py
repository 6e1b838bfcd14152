"""One row of a thinking loop, the part both loops share: the HF engine (`hf_engine.py`, token by
token on the KV cache) and the segment loop (`segment_loop.py`, vLLM / OpenAI-compatible servers).

What happens once a policy has answered is the same on every backend, so it lives here once:
dispatching `on_token`'s action, closing thinking (close text, answer prefix or final text),
how forced text becomes token ids, the answer budget, the probe record and the result. A loop
only says how tokens reach its model and how it learns what the model generated.

The rules (documented once, here):
- `answer_budget` limits the answer only after a *method's* cut: at most that many answer
  tokens after the forced close text (and answer prefix). An answer after the model closed
  its own thinking runs to `max_new_tokens`, as it would without the method.
- After a method's cut the answer gets what remains of `max_new_tokens`, unless the close names
  its own answer budget (`CloseThinking.answer_tokens`, s1's fresh max_gen_toks): then that many
  tokens after the forced text, whatever the thinking used (`answer_budget` still caps it).
- A cut's reason is the policy's; a probe decision that gives none is recorded as
  `PROBE_CUT_REASON`, a `CloseThinking` that gives none as `CLOSE_CUT_REASON`.
- Forced text counts as answer tokens, and it is always written whole, even past
  `max_new_tokens` (the row then ends with finish reason "length").
- Forced text is tokenised in context (`in_context`): the model is fed the ids its tokenizer
  gives for (the recent tail + the forced text), as the official DEER, Dynasor, s1 and
  step-entropy code append text and re-tokenise it. Where those differ from (the ids fed + the
  forced text encoded alone) — "19.\n" + "\n</think>" is "19", ".\n\n", "</think>" — the row
  rolls back to the first differing id (`Row.roll_back`, the one place for every loop). A close
  keeps the thinking count (`cut_position` is what the method decided at, e.g. s1's budget B):
  the forced text counts as the ids it adds beyond those rolled back; a probe's roll back is
  undone with the probe. Only generated ids roll back, never the prompt's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..policy import CloseThinking, Decision, Feed, Probe, ProbeResult, ProbeSpec, RowView, ThinkingPolicy

THINKING, ANSWER, DONE = "thinking", "answer", "done"
FIRST_TAIL_TOKENS = 8  # generated ids re-tokenised with a forced text (doubled while the first changes)
PROBE_CUT_REASON = "probe"  # cut_reason of a probe decision that names none
CLOSE_CUT_REASON = "close"  # cut_reason of a CloseThinking that names none


@dataclass(frozen=True)
class DecodeSettings:
    """How every row of a request decodes, on every backend."""

    max_new_tokens: int
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    # vLLM's / OpenAI's sampling options (the Qwen3 and QwQ protocols use top_k=20); 0 / 1.0: off.
    top_k: int = 0
    min_p: float = 0.0
    presence_penalty: float = 0.0  # subtracted once from the logit of each token already generated
    repetition_penalty: float = 1.0  # CTRL's, over prompt and output tokens (vLLM, transformers)
    seed: int = 1234
    stop_strings: tuple[str, ...] = ()
    eos_token_ids: frozenset[int] = frozenset()
    think_end: str = "</think>"
    close_text: str = "\n</think>\n\n"  # appended when a method cuts thinking
    answer_budget: int | None = None  # max answer tokens after a method's cut (None: what is left)
    entropy_unit: str = "nats"
    # Record each sampled token's full-vocabulary entropy and probability (step entropy needs
    # them; off by default because it costs a softmax per token; HF engine only).
    record_token_stats: bool = False


@dataclass
class RowResult:
    token_ids: list[int]  # generated ids (on segment backends: as the backend returned them)
    kinds: list[str]  # per token: "thinking" | "answer" (forced close text counts as answer)
    finish_reason: str  # "eos" | "stop" | "length" | "final" | "error"
    probe_tokens: int
    probes: list[dict]
    cut_position: int | None  # thinking tokens when a method closed thinking
    cut_reason: str | None
    closed_by: str | None  # "model" | "method" | None
    token_entropies: list[float | None] = field(default_factory=list)  # per token; None if forced
    token_probs: list[float | None] = field(default_factory=list)
    forced: dict | None = None  # a method's close: the ids fed, the generated ids rolled back, the text
    error: str | None = None  # finish_reason "error": why the row's request failed for good


@dataclass(frozen=True)
class Forced:
    """What a method forces when it closes thinking: the generated ids to roll back, then the
    ids to feed. `text` is what the fed ids decode to: the rolled-back text + the forced text."""

    text: str
    ids: list[int]
    rollback: int = 0
    rolled_back_text: str = ""


def probe_entropy_temperature(spec: ProbeSpec, settings: DecodeSettings) -> float | None:
    """The temperature a probe's entropies are read at (`ProbeSpec`), on every loop: its fixed
    `entropy_temperature`, else the run's sampling temperature, or None (raw logits)."""
    if not spec.entropy_at_sampling_temperature:
        return None
    if spec.entropy_temperature > 0:
        return spec.entropy_temperature
    return settings.temperature if settings.do_sample and settings.temperature > 0 else None


def decode(tokenizer, ids) -> str:
    """The text of ids, exactly (special tokens kept, no clean-up of spaces)."""
    return tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)


def in_context(tokenizer, fed: list[int], text: str, tail_tokens: int = FIRST_TAIL_TOKENS) -> tuple[int, list[int]]:
    """(keep, ids): keep `fed[:keep]`, then feed `ids`, so that the row holds what the tokenizer
    gives for the whole text. The tail of `fed` is decoded and encoded again with `text`; the
    tail grows (doubling) while even its first id changes, which a merge across a pre-token
    boundary or a split UTF-8 character would cause."""
    if not text:
        return len(fed), []
    k = min(tail_tokens, len(fed))
    while True:
        tail = fed[len(fed) - k :]
        joint = tokenizer.encode(decode(tokenizer, tail) + text, add_special_tokens=False)
        common = next((i for i, (a, b) in enumerate(zip(tail, joint)) if a != b), min(len(tail), len(joint)))
        if common > 0 or k == len(fed):
            return len(fed) - k + common, joint[common:]
        k = min(2 * k, len(fed))


@dataclass
class Row:
    """The state of one row that does not depend on the backend."""

    index: int
    max_new_tokens: int
    phase: str = THINKING
    thinking_tokens: int = 0  # fed (a held trigger excluded)
    answer_tokens: int = 0  # forced text included
    probe_tokens: int = 0
    probes: list[dict] = field(default_factory=list)
    state: dict = field(default_factory=dict)  # the policy's per-row memory
    closed_by: str | None = None
    cut_position: int | None = None
    cut_reason: str | None = None
    finish_reason: str | None = None
    answer_start: int | None = None  # answer tokens when a method's forced text ended
    answer_allowance: int | None = None  # the close's own answer budget (CloseThinking.answer_tokens)
    token_ids: list[int] = field(default_factory=list)  # generated ids fed so far (the context of forced text)
    forced: dict | None = None
    error: str | None = None  # a request that failed for good (segment backends)

    # -- accounting ---------------------------------------------------------------------
    def used(self) -> int:
        return self.thinking_tokens + self.answer_tokens

    def room(self, settings: DecodeSettings) -> int:
        """Tokens the model may still generate: what is left of `max_new_tokens` (after a cut
        whose close names its own answer budget: what is left of that), and after a method's cut
        at most `answer_budget` answer tokens past the forced text."""
        answered = self.answer_tokens - self.answer_start if self.answer_start is not None else 0
        if self.answer_start is not None and self.answer_allowance is not None:
            left = self.answer_allowance - answered
        else:
            left = settings.max_new_tokens - self.used()
        if self.answer_start is not None and settings.answer_budget is not None:
            left = min(left, settings.answer_budget - answered)
        return left

    def finish(self, reason: str) -> None:
        self.phase, self.finish_reason = DONE, reason

    def fail(self, reason: str) -> None:
        """The row's request failed for good: it ends here, with what it generated and why."""
        self.finish("error")
        self.error = reason

    def model_closed(self) -> None:
        """The model wrote the end-of-thinking marker itself: its answer follows, unbudgeted."""
        self.phase, self.closed_by = ANSWER, "model"

    def view(self, token_text: str, last_token_id: int | None, tail_text) -> RowView:
        return RowView(
            thinking_tokens=self.thinking_tokens,
            last_token_id=last_token_id,
            token_text=token_text,
            probes_done=len(self.probes),
            max_new_tokens=self.max_new_tokens,
            state=self.state,
            tail_text=tail_text,
        )

    # -- what a policy answers ------------------------------------------------------------
    def decide(self, policy: ThinkingPolicy, view: RowView, token_id: int, settings: DecodeSettings, tokenizer) -> Feed | Probe | Forced:
        """Ask `on_token` about the token under decision: feed it, probe first, or close
        thinking (the token is dropped and the returned forced text is fed instead)."""
        action = policy.on_token(view, token_id)
        if isinstance(action, CloseThinking):
            return self.close(settings, tokenizer, action.reason or CLOSE_CUT_REASON, action.final_text, action.answer_prefix,
                              action.close_text, action.answer_tokens)
        return action if isinstance(action, Probe) else Feed()

    def probed(self, policy: ThinkingPolicy, view: RowView, result: ProbeResult, settings: DecodeSettings, tokenizer,
               extra: dict | None = None) -> Forced | None:
        """Ask `on_probe` about a finished probe and record it; the forced text when it cuts,
        None when thinking goes on (the held token is fed)."""
        decision: Decision = policy.on_probe(view, result)
        self.probes.append(
            {
                "position": self.thinking_tokens,
                "trigger": view.token_text,
                "entropies": [round(x, 6) for x in result.entropies],
                "max_probs": [round(x, 6) for x in result.max_probs],
                "probe_text": result.text,
                "score": decision.score,
                "decision": "cut" if decision.cut else "continue",
                **(extra or {}),
            }
        )
        if not decision.cut:
            return None
        return self.close(settings, tokenizer, decision.reason or PROBE_CUT_REASON, decision.final_text)

    def close(self, settings: DecodeSettings, tokenizer, reason: str, final_text: str | None = None, answer_prefix: str = "",
              close_text: str | None = None, answer_tokens: int | None = None) -> Forced:
        """A method closes thinking: the close text (the run's, or the method's `close_text`) and
        answer prefix (or the final text, which ends the row) are forced, counted as answer tokens,
        and the answer budget starts (`answer_tokens`: the close's own, see `room`)."""
        close = settings.close_text if close_text is None else close_text
        text = final_text if final_text is not None else close + answer_prefix
        keep, ids = in_context(tokenizer, self.token_ids, text)
        rolled_back = decode(tokenizer, self.token_ids[keep:])
        forced = Forced(rolled_back + text, ids, len(self.token_ids) - keep, rolled_back)
        self.roll_back(forced)
        added = len(ids) - forced.rollback  # closes happen while thinking: only thinking ids roll back
        self.thinking_tokens += min(0, added)  # fewer ids than rolled back: the thinking shrinks
        self.closed_by, self.cut_position, self.cut_reason = "method", self.thinking_tokens, reason
        self.forced = {"ids": list(ids), "rollback": forced.rollback, "text": forced.text}
        self.answer_tokens += max(0, added)
        self.answer_start = self.answer_tokens
        self.answer_allowance = answer_tokens
        self.phase = ANSWER
        if final_text is not None:
            self.finish("final")
        elif self.room(settings) <= 0:
            self.finish("length")
        return forced

    def roll_back(self, forced: Forced) -> None:
        """Forget the generated ids a forced text re-tokenises with (`in_context`): the one place a
        roll back happens, on every loop. What a loop keeps per generated id besides the id (the HF
        engine: cache columns and token statistics; the segment loop: the text) goes in its
        `forget_generated`."""
        if forced.rollback:
            del self.token_ids[len(self.token_ids) - forced.rollback :]
            self.forget_generated(forced.rollback, forced.rolled_back_text)

    def forget_generated(self, count: int, text: str) -> None:
        """The last `count` generated ids, whose text is `text`, were rolled back (a loop's hook)."""

    def probe_prefix(self, tokenizer, prefix_ids) -> tuple[int, list[int]]:
        """(keep, ids) for a probe: its prefix tokenised in context (`in_context`); the roll
        back is undone when the probe is discarded."""
        return in_context(tokenizer, self.token_ids, decode(tokenizer, prefix_ids))

    # -- the result -----------------------------------------------------------------------
    def result(self, token_entropies=(), token_probs=()) -> RowResult:
        return RowResult(
            token_ids=list(self.token_ids),
            kinds=[THINKING] * self.thinking_tokens + [ANSWER] * self.answer_tokens,
            finish_reason=self.finish_reason or "length",
            probe_tokens=self.probe_tokens,
            probes=self.probes,
            cut_position=self.cut_position,
            cut_reason=self.cut_reason,
            closed_by=self.closed_by,
            token_entropies=list(token_entropies),
            token_probs=list(token_probs),
            forced=self.forced,
            error=self.error,
        )


DECODING_FIELDS = ("max_new_tokens", "do_sample", "temperature", "top_p", "top_k", "min_p", "presence_penalty",
                   "repetition_penalty", "seed", "answer_budget")


def decoding_record(settings: DecodeSettings) -> dict:
    """The decoding settings a comparison of runs must check (recorded with every sample)."""
    return {name: getattr(settings, name) for name in DECODING_FIELDS}
