"""`cotbench-nowait`: NoWait (Wang et al., arXiv 2506.08343): suppress reflection tokens.

While the model thinks, every vocabulary entry that *is* one of the reflection keywords
(case-insensitive, ignoring surrounding spaces/punctuation) gets logit -inf. The paper expands
the keywords over the vocabulary by substring and filters false positives by hand; our filter
is whole-word equality, which keeps "many", "know", "button", "mother" allowed.

A keyword with no single-token spelling ("double-check" is "double" + "-check" in Qwen3 and
DeepSeek-V3) is banned in context (`ban_multi_token=true`, default): after its leading
pieces, its final piece gets -inf, so the keyword is never completed while "double" alone stays
allowed. This needs each row's last token ids (`mask_logits(logits, recent_ids)`); a loop that
passes none bans the single-token forms only, and segment backends (a static logit_bias) do the
same.

The answer after `</think>`: ours (`ban_in_answer=false`, default) leaves it unconstrained. The
paper describes NoWait as suppressing the keywords "during inference" with a logit processor and
names no phase; it also runs on QvQ-72B-Preview, which writes no end-of-thinking marker, so its
processor cannot have been phase-aware there. `protocol=paper` therefore bans them in the answer
too (`ban_in_answer=true`, both loops). Only the abstract and third-party summaries of arXiv
2506.08343 were available to us, and no code is published: this reading is not verified.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from lm_eval.api.registry import register_model

from ..adapter.args import require
from ..adapter.base import CotbenchLM
from ..adapter.protocol import Protocol
from ..policy import ThinkingPolicy
from ..signals.vocabulary import keyword_continuation_bans, reflection_token_ids

# The keyword list of arXiv 2506.08343 (mined from QwQ-32B outputs on AIME 2025) [S].
NOWAIT_KEYWORDS = (
    "wait", "alternatively", "hmm", "but", "however", "alternative", "another", "check",
    "double-check", "oh", "maybe", "verify", "other", "again", "now", "ah", "any",
)


@dataclass
class NoWaitArgs:
    keywords: tuple[str, ...] = NOWAIT_KEYWORDS  # "|"-separated
    ban_multi_token: bool = True  # ban multi-token spellings in context (see above)
    ban_in_answer: bool = False  # ours: while thinking only; paper: the whole generation (see above)

    def validate(self, method: str) -> None:
        require(bool(self.keywords) and all(self.keywords), method, "keywords", "|".join(self.keywords), "one or more words")


class NoWaitPolicy(ThinkingPolicy):
    name = "nowait"

    def __init__(self, banned_ids, continuation_bans: dict[tuple[int, ...], frozenset[int]] | None = None, ban_in_answer: bool = False):
        self.masks_answer = ban_in_answer  # the loops mask answering rows too (ThinkingPolicy.masks_answer)
        self.banned_ids = frozenset(banned_ids)
        self.banned = torch.tensor(sorted(banned_ids), dtype=torch.long)
        self.continuation_bans = dict(continuation_bans or {})
        self.context_length = max((len(prefix) for prefix in self.continuation_bans), default=0)

    def banned_token_ids(self):
        return self.banned_ids

    def banned_after(self, recent_ids) -> frozenset[int]:
        """Final pieces of multi-token keywords whose leading pieces end `recent_ids`."""
        recent = tuple(recent_ids[-self.context_length :]) if self.context_length else ()
        found: set[int] = set()
        for prefix, ids in self.continuation_bans.items():
            if len(recent) >= len(prefix) and recent[len(recent) - len(prefix) :] == prefix:
                found |= ids
        return frozenset(found)

    def mask_logits(self, logits, recent_ids=None):
        """`recent_ids`: per row of `logits`, its last fed token ids (None: no context bans)."""
        if self.banned.numel():
            logits[:, self.banned.to(logits.device)] = float("-inf")
        if recent_ids is not None and self.continuation_bans:
            for row, ids in enumerate(recent_ids):
                extra = self.banned_after(ids)
                if extra:
                    logits[row, torch.tensor(sorted(extra), device=logits.device)] = float("-inf")
        return logits


# NoWait's published setting is its keyword list, suppressed during inference (no phase named:
# the answer too, see the docstring); no official code, decoding not in our sources.
PAPER_PROTOCOL = Protocol(
    source="arXiv 2506.08343: the 17 keywords mined from QwQ-32B on AIME 2025, suppressed during inference; decoding not in our sources",
    method_args={"keywords": NOWAIT_KEYWORDS, "ban_in_answer": True},
)


@register_model("cotbench-nowait")
class NoWaitLM(CotbenchLM):
    method_name = "nowait"
    MethodArgs = NoWaitArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL

    def make_policy(self):
        keywords = self.method_args.keywords
        self.banned_token_ids = reflection_token_ids(self.tokenizer, keywords)
        bans = keyword_continuation_bans(self.tokenizer, keywords, self.banned_token_ids) if self.method_args.ban_multi_token else {}
        return NoWaitPolicy(self.banned_token_ids, bans, self.method_args.ban_in_answer)

    def describe(self):
        info = super().describe()
        info["method_args"]["banned_tokens"] = len(self.banned_token_ids)
        info["method_args"]["banned_in_context"] = sum(len(ids) for ids in self.policy.continuation_bans.values())
        return info
