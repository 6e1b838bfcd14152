"""`cotbench-budget`: s1 budget forcing (Muennighoff et al., arXiv 2501.19393), early exit.

At most B thinking tokens; then thinking is closed and the answer is generated after
"Final Answer:" (s1's vLLM code appends the end-of-thinking delimiter and "Final Answer:"
when the thinking budget ran out). This is the "fixed truncation budget" baseline EntroCut
compares against. s1's budget *extension* (suppress the end of thinking, append "Wait") is not
implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

from lm_eval.api.registry import register_model

from ..adapter.args import require, unescape
from ..adapter.base import CotbenchLM
from ..adapter.protocol import GREEDY, Protocol
from ..policy import CloseThinking, Feed, SegmentPlan, ThinkingPolicy


@dataclass
class BudgetArgs:
    thinking_budget: int = 2048  # B; s1 sweeps 500…16000, ours as default
    answer_prefix: str = "Final Answer:"  # s1 (simplescaling/s1 README, "budget forcing")

    def validate(self, method: str) -> None:
        require(self.thinking_budget >= 1, method, "thinking_budget", self.thinking_budget, "an integer >= 1")


class BudgetPolicy(ThinkingPolicy):
    name = "budget"

    def __init__(self, budget: int, answer_prefix: str):
        self.budget, self.answer_prefix = budget, answer_prefix

    def on_token(self, row, token_id):
        if row.thinking_tokens >= self.budget:
            return CloseThinking(reason=f"thinking budget {self.budget}", answer_prefix=self.answer_prefix)
        return Feed()

    def segment_plan(self, row):
        return SegmentPlan(max_tokens=max(0, self.budget - row.thinking_tokens))


# s1 as published: greedy (the paper's evaluation), and on a spent budget the end-of-thinking
# delimiter then "\nFinal Answer:" (s1's vLLM budget forcing: thinking_end + "\nFinal Answer:"),
# i.e. "\n</think>\nFinal Answer:" for an R1-style model, without our default's blank line.
PAPER_PROTOCOL = Protocol(
    source="arXiv 2501.19393 §3; simplescaling/s1 README, 'vLLM with budget forcing'",
    decoding=dict(GREEDY),
    method_args={"answer_prefix": "Final Answer:"},
    engine_args={"close_text": "\\n</think>\\n"},
)


@register_model("cotbench-budget")
class BudgetLM(CotbenchLM):
    method_name = "budget"
    MethodArgs = BudgetArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL

    def make_policy(self):
        return BudgetPolicy(self.method_args.thinking_budget, unescape(self.method_args.answer_prefix))
