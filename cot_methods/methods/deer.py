"""`cotbench-deer`: DEER, Dynamic Early Exit in Reasoning (Yang et al., arXiv 2504.15895;
official code iie-ycx/DEER).

At a "Wait" the model is asked for a trial answer: the probe "\\n**Final Answer**\\n\\boxed"
is appended and up to 20 tokens are decoded, stopping where the boxed answer ends
(vllm-deer.py's stop strings: a "}" followed by a space, newline, "." "\\" or "}", or
")}": never inside `\\frac{1}{2}`, whose inner "}{" is no stop; an inner "}}", as in
`\\frac{\\sqrt{3}}{2}`, still ends it early, as in the official code). The confidence is the
mean (official R1 code, `avg1`, default) or geometric mean (paper's formula, Qwen3 code) of the
trial answer's token probabilities. Above λ = 0.95 thinking ends; otherwise "Wait" is kept and
thinking continues. At most 10 probes (max_judge_steps); thinking may take think_ratio ×
max_gen_toks tokens, with a 50-token margin. Defaults from vllm-deer.py / README (see
docs/METHODS.md §5.1).

Two rules differ between the official HF and vLLM scripts; `protocol=default` keeps the HF
one (ours since the start), `protocol=paper` sets vllm-deer.py's, the script behind the
paper's R1 numbers (README command):
- the trial answer (`probe_temperature`, `confidence_probs`). Default: greedy, each position's
  max probability, without the opening "{" and the closing-brace token (vanilla_deer.py:61-111,
  `calcu_max_probs_w_kv`). Paper: sampled at T = 1.0 — vllm-deer.py:432-437 leaves the probe's
  temperature unset and vLLM's default is 1.0 — with the probability of each *sampled* token
  (`logprobs=1`, the first entry of each position, lines 124-127) from the second token to the
  last, the closing stop token kept (lines 107-120: start_index 1, end_index num_tokens).
- the thinking limit (`limit_rule`). Default `any_token`: thinking is force-closed at
  think_ratio × budget − 50 on whatever token comes. Paper `next_trigger`: a thinking chunk
  runs to the next "Wait" or to the hard limit think_ratio × budget (vllm-deer.py:383-386);
  after each chunk the probe runs, and from limit − 50 on it exits whatever the confidence
  (lines 633-636). So at the limit the official code exits at the first "Wait" past limit − 50,
  or at the limit itself (after one more probe, whose answer no longer matters).
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
# Which probabilities the confidence averages: "max" (vanilla_deer.py, ours) or "sampled" (vllm-deer.py).
CONFIDENCE_PROBS = ("max", "sampled")
# When the thinking limit closes thinking: "any_token" (ours) or "next_trigger" (vllm-deer.py).
LIMIT_RULES = ("any_token", "next_trigger")
VLLM_DEFAULT_TEMPERATURE = 1.0  # vLLM SamplingParams' temperature when none is given (vllm-deer.py:432-437)


@dataclass
class DeerArgs:
    threshold: float = 0.95  # λ, paper and code
    triggers: tuple[str, ...] = ("Wait",)
    probe: str = "\\n**Final Answer**\\n\\boxed"  # vllm-deer.py (R1-distill)
    probe_tokens: int = 20  # prob_check_max_tokens
    confidence: str = "avg1"  # avg1 = arithmetic mean (R1 code), avg2 = geometric mean (paper), min
    max_probes: int = 10  # max_judge_steps
    think_ratio: float = 0.6  # README's R1 command (argparse default 0.9)
    limit_margin: int = 50  # vllm-deer.py:634 (think_limit_tokens - 50)
    probe_temperature: float = 0.0  # 0: greedy (ours, vanilla_deer.py); paper 1.0 (vLLM's default, vllm-deer.py:432-437)
    confidence_probs: str = "max"  # max (ours, vanilla_deer.py) | sampled (vllm-deer.py:100-149); see the docstring
    limit_rule: str = "any_token"  # any_token (ours) | next_trigger (vllm-deer.py:383-386, 633-636); see the docstring

    def validate(self, method: str) -> None:
        require(0 < self.threshold <= 1, method, "threshold", self.threshold, "a probability in (0, 1]")
        require(bool(self.triggers) and all(self.triggers), method, "triggers", "|".join(self.triggers), "one or more words")
        require(self.probe_tokens >= 2, method, "probe_tokens", self.probe_tokens, "an integer >= 2")
        require(self.confidence in CONFIDENCE_POLICIES, method, "confidence", self.confidence, "avg1, avg2 or min")
        require(self.max_probes >= 0, method, "max_probes", self.max_probes, "an integer >= 0")
        require(0 < self.think_ratio <= 1, method, "think_ratio", self.think_ratio, "a ratio in (0, 1]")
        require(self.limit_margin >= 0, method, "limit_margin", self.limit_margin, "an integer >= 0")
        require(self.probe_temperature >= 0, method, "probe_temperature", self.probe_temperature, "a number >= 0 (0: greedy)")
        require(self.confidence_probs in CONFIDENCE_PROBS, method, "confidence_probs", self.confidence_probs, " | ".join(CONFIDENCE_PROBS))
        require(self.limit_rule in LIMIT_RULES, method, "limit_rule", self.limit_rule, " | ".join(LIMIT_RULES))


def aggregate(probs: list[float], policy: str) -> float:
    """avg1 (arithmetic mean), avg2 (geometric mean) or min of token probabilities; 0 for none."""
    if not probs:
        return 0.0
    if policy == "avg2":
        return math.exp(sum(math.log(max(p, 1e-12)) for p in probs) / len(probs))
    if policy == "min":
        return min(probs)
    return sum(probs) / len(probs)


def answer_confidence(max_probs: list[float], tokens_text: list[str], policy: str) -> float:
    """Confidence of a trial answer (`confidence_probs=max`): its max token probabilities, minus
    the opening '{' and the closing-brace token (as vanilla_deer.py does)."""
    probs = list(max_probs)
    if tokens_text and tokens_text[0].strip().startswith("{"):
        probs = probs[1:]
    if len(probs) > 1 and tokens_text and "}" in tokens_text[-1]:
        probs = probs[:-1]
    return aggregate(probs, policy)


def sampled_confidence(chosen_probs: list[float], policy: str) -> float:
    """Confidence of a trial answer (`confidence_probs=sampled`, vllm-deer.py:100-149): the
    probability of each token the probe chose, from the second to the last (the closing stop
    token kept). A one-token answer has nothing to average (the official code divides by zero): 0."""
    return aggregate(list(chosen_probs)[1:], policy)


class DeerPolicy(ThinkingPolicy):
    name = "deer"

    def __init__(self, args: DeerArgs, trigger_ids, probe_ids, decode_token):
        self.args, self.trigger_ids, self.decode_token = args, trigger_ids, decode_token
        self.spec = ProbeSpec(tuple(probe_ids), args.probe_tokens, DEER_STOP_TEXTS, temperature=args.probe_temperature)

    def limit(self, row) -> int:
        """The hard thinking limit: think_ratio × the request's budget (vllm-deer.py:275)."""
        return int(row.max_new_tokens * self.args.think_ratio)

    def on_token(self, row, token_id):
        limit = self.limit(row)
        if self.args.limit_rule == "any_token":
            if row.thinking_tokens >= limit - self.args.limit_margin:
                return CloseThinking(reason=f"thinking limit {limit}")
        elif row.thinking_tokens >= limit:  # the chunk hit the limit: one more probe, then exit
            return Probe(self.spec)
        if token_id in self.trigger_ids and row.probes_done < self.args.max_probes:
            return Probe(self.spec)
        return Feed()

    def segment_plan(self, row):
        limit = self.limit(row) - (self.args.limit_margin if self.args.limit_rule == "any_token" else 0)
        return SegmentPlan(stop_texts=tuple(self.args.triggers), max_tokens=max(0, limit - row.thinking_tokens))

    def on_probe(self, row, result):
        if self.args.confidence_probs == "sampled":
            confidence = sampled_confidence(result.chosen_probs if result.chosen_probs is not None else result.max_probs, self.args.confidence)
        else:
            texts = result.token_texts or [self.decode_token(t) for t in result.token_ids]
            confidence = answer_confidence(result.max_probs, texts, self.args.confidence)
        limit = self.limit(row)
        if self.args.limit_rule == "next_trigger" and row.thinking_tokens >= limit - self.args.limit_margin:
            return Decision(cut=True, score=confidence, reason=f"thinking limit {limit}")
        return Decision(cut=confidence > self.args.threshold, score=confidence, reason=f"confidence {confidence:.4f} > {self.args.threshold}")


# DEER as published: greedy, a 16,000-token budget of which 60 % may be thinking (README's
# R1 command: --max_generated_tokens 16000 --think_ratio 0.6; vllm-deer.py temperature 0.0),
# with vllm-deer.py's trial answer (sampled at vLLM's default T, sampled-token probabilities,
# closing token kept) and its thinking limit (the next "Wait" past limit − 50, or the limit).
PAPER_PROTOCOL = Protocol(
    source="arXiv 2504.15895; iie-ycx/DEER README (R1 command) and vllm-deer.py",
    decoding={**GREEDY, "max_gen_toks": 16000},
    method_args={"threshold": 0.95, "think_ratio": 0.6, "confidence": "avg1", "probe_tokens": 20, "max_probes": 10,
                 "probe_temperature": VLLM_DEFAULT_TEMPERATURE, "confidence_probs": "sampled", "limit_rule": "next_trigger"},
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
