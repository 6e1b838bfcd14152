"""`cotbench-deer`: DEER, Dynamic Early Exit in Reasoning (Yang et al., arXiv 2504.15895;
official code iie-ycx/DEER).

At a "Wait" the model is asked for a trial answer: the probe "\\n**Final Answer**\\n\\boxed"
is appended and up to 20 tokens are decoded greedily, stopping where the boxed answer ends
(vllm-deer.py's stop strings: a "}" followed by a space, newline, "." "\\" or "}", or
")}": never inside `\\frac{1}{2}`, whose inner "}{" is no stop; an inner "}}", as in
`\\frac{\\sqrt{3}}{2}`, still ends it early, as in the official code). The
confidence is the mean (official R1 code, `avg1`, default) or geometric mean (paper's
formula, Qwen3 code) of the trial answer's max token probabilities, skipping the first token
('{'). Above λ = 0.95 thinking ends; otherwise "Wait" is kept and thinking continues. At
most 10 probes (max_judge_steps); thinking is force-closed 50 tokens before
think_ratio × max_gen_toks. Defaults from vllm-deer.py / README (see docs/METHODS.md §5.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lm_eval.api.registry import register_model

from ..adapter.args import require, unescape
from ..adapter.base import CotbenchLM
from ..adapter.protocol import GREEDY, Protocol
from ..policy import CloseThinking, Decision, Feed, Probe, ProbeSpec, SegmentPlan, ThinkingPolicy
from ..signals.vocabulary import trigger_token_ids

# Probe stops of vllm-deer.py (`pred_prob_stop_tokens`): where \boxed{…} ends. A bare "}" would
# cut `\frac{1}{2}` after "{1}" and score a truncated answer; "}{" is deliberately absent.
DEER_STOP_TEXTS = (" }", "}\n", "}\n\n", "}.", "}.\n", "}\\", "}}", ")}", ")}.", ")}\n")
CONFIDENCE_POLICIES = ("avg1", "avg2", "min")


@dataclass
class DeerArgs:
    threshold: float = 0.95  # λ, paper and code
    triggers: tuple[str, ...] = ("Wait",)
    probe: str = "\\n**Final Answer**\\n\\boxed"  # vllm-deer.py (R1-distill)
    probe_tokens: int = 20  # prob_check_max_tokens
    confidence: str = "avg1"  # avg1 = arithmetic mean (R1 code), avg2 = geometric mean (paper), min
    max_probes: int = 10  # max_judge_steps
    think_ratio: float = 0.6  # README's R1 command (argparse default 0.9)
    limit_margin: int = 50  # force the answer this many tokens before the limit (think_limit - 50)

    def validate(self, method: str) -> None:
        require(0 < self.threshold <= 1, method, "threshold", self.threshold, "a probability in (0, 1]")
        require(bool(self.triggers) and all(self.triggers), method, "triggers", "|".join(self.triggers), "one or more words")
        require(self.probe_tokens >= 2, method, "probe_tokens", self.probe_tokens, "an integer >= 2")
        require(self.confidence in CONFIDENCE_POLICIES, method, "confidence", self.confidence, "avg1, avg2 or min")
        require(self.max_probes >= 0, method, "max_probes", self.max_probes, "an integer >= 0")
        require(0 < self.think_ratio <= 1, method, "think_ratio", self.think_ratio, "a ratio in (0, 1]")
        require(self.limit_margin >= 0, method, "limit_margin", self.limit_margin, "an integer >= 0")


def answer_confidence(max_probs: list[float], tokens_text: list[str], policy: str) -> float:
    """Confidence of a trial answer: its max token probabilities, minus the opening '{' and
    the closing-brace token (as vanilla_deer.py does)."""
    probs = list(max_probs)
    if tokens_text and tokens_text[0].strip().startswith("{"):
        probs = probs[1:]
    if len(probs) > 1 and tokens_text and "}" in tokens_text[-1]:
        probs = probs[:-1]
    if not probs:
        return 0.0
    if policy == "avg2":
        return math.exp(sum(math.log(max(p, 1e-12)) for p in probs) / len(probs))
    if policy == "min":
        return min(probs)
    return sum(probs) / len(probs)


class DeerPolicy(ThinkingPolicy):
    name = "deer"

    def __init__(self, args: DeerArgs, trigger_ids, probe_ids, decode_token):
        self.args, self.trigger_ids, self.decode_token = args, trigger_ids, decode_token
        self.spec = ProbeSpec(tuple(probe_ids), args.probe_tokens, DEER_STOP_TEXTS)

    def on_token(self, row, token_id):
        limit = int(row.max_new_tokens * self.args.think_ratio)
        if row.thinking_tokens >= limit - self.args.limit_margin:
            return CloseThinking(reason=f"thinking limit {limit}")
        if token_id in self.trigger_ids and row.probes_done < self.args.max_probes:
            return Probe(self.spec)
        return Feed()

    def segment_plan(self, row):
        limit = int(row.max_new_tokens * self.args.think_ratio) - self.args.limit_margin
        return SegmentPlan(stop_texts=tuple(self.args.triggers), max_tokens=max(0, limit - row.thinking_tokens))

    def on_probe(self, row, result):
        texts = result.token_texts or [self.decode_token(t) for t in result.token_ids]
        confidence = answer_confidence(result.max_probs, texts, self.args.confidence)
        return Decision(cut=confidence > self.args.threshold, score=confidence, reason=f"confidence {confidence:.4f} > {self.args.threshold}")


# DEER as published: greedy, a 16,000-token budget of which 60 % may be thinking (README's
# R1 command: --max_generated_tokens 16000 --think_ratio 0.6; vllm-deer.py temperature 0.0).
PAPER_PROTOCOL = Protocol(
    source="arXiv 2504.15895; iie-ycx/DEER README (R1 command) and vllm-deer.py",
    decoding={**GREEDY, "max_gen_toks": 16000},
    method_args={"threshold": 0.95, "think_ratio": 0.6, "confidence": "avg1", "probe_tokens": 20, "max_probes": 10},
    engine_args={"close_text": "\\n</think>\\n\\n"},
)


@register_model("cotbench-deer")
class DeerLM(CotbenchLM):
    method_name = "deer"
    MethodArgs = DeerArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL

    def make_policy(self):
        ids = trigger_token_ids(self.tokenizer, self.method_args.triggers, "cotbench-deer")
        probe = self.tokenizer.encode(unescape(self.method_args.probe), add_special_tokens=False)
        return DeerPolicy(self.method_args, ids, probe, lambda t: self.tokenizer.decode([t]))
