"""`cotbench-budget`: s1 budget forcing (Muennighoff et al., arXiv 2501.19393), early exit.

At most B thinking tokens; then thinking is closed and the answer is generated after
"Final Answer:" (s1's vLLM code appends the end-of-thinking delimiter and "Final Answer:"
when the thinking budget ran out). This is the "fixed truncation budget" baseline EntroCut
compares against. s1's budget *extension* (suppress the end of thinking, append "Wait") is not
implemented.

Two rules of s1's lm-eval fork (eval/lm-evaluation-harness/lm_eval/models/vllm_causallms.py),
each an argument whose default is ours and which `protocol=paper` sets to s1's:
- the newline before the delimiter (`close_newline`). Ours `always`: the close text as given.
  s1 `if_missing` (lines 403-409): "\\n" + delimiter + "\\nFinal Answer:" only where the
  thinking does not already end with a newline, else delimiter + "\\nFinal Answer:" (the close
  text without its leading "\\n").
- the answer's budget (`answer_tokens`). Ours `remaining`: what the thinking left of
  max_gen_toks. s1 `max_gen_toks`: the answer request gets max_gen_toks anew (line 414,
  `max_tokens=max_gen_toks` from line 579), whatever the thinking used.
s1 feeds the close as token ids appended to the thinking's (line 408); we tokenise it in context
(loop/row.py), as every method's forced text.
"""

from __future__ import annotations

from dataclasses import dataclass

from lm_eval.api.registry import register_model

from ..adapter.args import require, unescape
from ..adapter.base import CotbenchLM
from ..adapter.protocol import GREEDY, Protocol
from ..policy import CloseThinking, Feed, SegmentPlan, ThinkingPolicy

CLOSE_NEWLINES = ("always", "if_missing")  # ours | s1 (vllm_causallms.py:403-409)
ANSWER_TOKENS = ("remaining", "max_gen_toks")  # ours | s1 (vllm_causallms.py:414, 579)


@dataclass
class BudgetArgs:
    thinking_budget: int = 2048  # B; s1 sweeps 500…16000, ours as default
    answer_prefix: str = "Final Answer:"  # s1 (simplescaling/s1 README, "budget forcing")
    close_newline: str = "always"  # always (ours) | if_missing (s1: no "\n" before the delimiter after one)
    answer_tokens: str = "remaining"  # remaining (ours) | max_gen_toks (s1: the answer's own max_gen_toks)

    def validate(self, method: str) -> None:
        require(self.thinking_budget >= 1, method, "thinking_budget", self.thinking_budget, "an integer >= 1")
        require(self.close_newline in CLOSE_NEWLINES, method, "close_newline", self.close_newline, " | ".join(CLOSE_NEWLINES))
        require(self.answer_tokens in ANSWER_TOKENS, method, "answer_tokens", self.answer_tokens, " | ".join(ANSWER_TOKENS))


class BudgetPolicy(ThinkingPolicy):
    name = "budget"

    def __init__(self, budget: int, answer_prefix: str, close_text: str = "\n</think>\n\n", close_newline: str = "always",
                 answer_tokens: str = "remaining"):
        self.budget, self.answer_prefix = budget, answer_prefix
        self.close_text, self.close_newline, self.answer_tokens = close_text, close_newline, answer_tokens

    def on_token(self, row, token_id):
        if row.thinking_tokens >= self.budget:
            close = None
            if self.close_newline == "if_missing" and self.close_text.startswith("\n") and row.tail_text().endswith("\n"):
                close = self.close_text[1:]
            answer = row.max_new_tokens if self.answer_tokens == "max_gen_toks" else None
            return CloseThinking(reason=f"thinking budget {self.budget}", answer_prefix=self.answer_prefix, close_text=close,
                                 answer_tokens=answer)
        return Feed()

    def segment_plan(self, row):
        return SegmentPlan(max_tokens=max(0, self.budget - row.thinking_tokens))


# s1 as published: greedy (the paper's evaluation), and on a spent budget the end-of-thinking
# delimiter then "\nFinal Answer:" (s1's vLLM budget forcing: thinking_end + "\nFinal Answer:"),
# i.e. "\n</think>\nFinal Answer:" for an R1-style model, without our default's blank line; the
# leading "\n" only where the thinking lacks one, and the answer gets max_gen_toks of its own.
PAPER_PROTOCOL = Protocol(
    source="arXiv 2501.19393 §3; simplescaling/s1 README, 'vLLM with budget forcing'; lm-eval fork vllm_causallms.py:401-414",
    decoding=dict(GREEDY),
    method_args={"answer_prefix": "Final Answer:", "close_newline": "if_missing", "answer_tokens": "max_gen_toks"},
    engine_args={"close_text": "\\n</think>\\n"},
)


@register_model("cotbench-budget")
class BudgetLM(CotbenchLM):
    method_name = "budget"
    MethodArgs = BudgetArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL

    def make_policy(self):
        args = self.method_args
        return BudgetPolicy(args.thinking_budget, unescape(args.answer_prefix), unescape(self.engine_args.close_text),
                            args.close_newline, args.answer_tokens)
