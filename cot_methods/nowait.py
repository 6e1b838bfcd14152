"""`cotbench-nowait`: NoWait (Wang et al., arXiv 2506.08343): suppress reflection tokens.

While the model thinks, every vocabulary entry that *is* one of the reflection keywords
(case-insensitive, ignoring surrounding spaces/punctuation) gets logit -inf. The paper expands
the keywords over the vocabulary by substring and filters false positives by hand; our filter
is whole-word equality, which keeps "many", "know", "button", "mother" allowed. Multi-token
spellings of a keyword are not banned (only single-token forms; documented limitation).
The answer after `</think>` is not constrained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from lm_eval.api.registry import register_model

from .args import require
from .base import CotbenchLM
from .policy import ThinkingPolicy
from .protocol import Protocol
from .vocabulary import reflection_token_ids

# The keyword list of arXiv 2506.08343 (mined from QwQ-32B outputs on AIME 2025) [S].
NOWAIT_KEYWORDS = (
    "wait", "alternatively", "hmm", "but", "however", "alternative", "another", "check",
    "double-check", "oh", "maybe", "verify", "other", "again", "now", "ah", "any",
)


@dataclass
class NoWaitArgs:
    keywords: tuple[str, ...] = NOWAIT_KEYWORDS  # "|"-separated

    def validate(self, method: str) -> None:
        require(bool(self.keywords) and all(self.keywords), method, "keywords", "|".join(self.keywords), "one or more words")


class NoWaitPolicy(ThinkingPolicy):
    name = "nowait"

    def __init__(self, banned_ids):
        self.banned_ids = frozenset(banned_ids)
        self.banned = torch.tensor(sorted(banned_ids), dtype=torch.long)

    def banned_token_ids(self):
        return self.banned_ids

    def mask_logits(self, logits):
        if self.banned.numel():
            logits[:, self.banned.to(logits.device)] = float("-inf")
        return logits


# NoWait's published setting is its keyword list; no official code, decoding not in our sources.
PAPER_PROTOCOL = Protocol(
    source="arXiv 2506.08343: the 17 keywords mined from QwQ-32B on AIME 2025; decoding not in our sources",
    method_args={"keywords": NOWAIT_KEYWORDS},
)


@register_model("cotbench-nowait")
class NoWaitLM(CotbenchLM):
    method_name = "nowait"
    MethodArgs = NoWaitArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL

    def make_policy(self):
        self.banned_token_ids = reflection_token_ids(self.tokenizer, self.method_args.keywords)
        return NoWaitPolicy(self.banned_token_ids)

    def describe(self):
        info = super().describe()
        info["method_args"]["banned_tokens"] = len(self.banned_token_ids)
        return info
