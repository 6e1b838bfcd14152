"""`cotbench-entrocut`: EntroCut (Yan, Liu, Wang; arXiv 2601.22617), training-free truncation.

At a reflective trigger token ("Wait", …) met while thinking, a probe text is appended on top
of the KV cache and k tokens are decoded greedily; the full-vocabulary entropy
H(t) = -Σ_v p(v|x≤t) log p(v|x≤t) of each probe step's next-token distribution is aggregated
(mean by default). Low entropy means the model is already confident: below τ we close
thinking and let the model answer. The probe is discarded, so continuing is exact.

What is the paper's and what is ours (see shared/research/METHODS.md §1, all [U]):
- τ = 0.15 (DeepSeek-R1-Distill-Qwen-1.5B) and 0.225 (7B) come from summaries of the paper;
  they are the per-model defaults below, overridable with `threshold=`. For other models we
  fall back to 0.15 and record that the threshold is uncalibrated.
- The probe text, k, the aggregation and the minimum thinking length are not public. Our
  defaults: the DEER-style answer probe "\\n**Final Answer**\\n\\boxed{" (it asks for the answer,
  so low entropy reads as "the answer is settled"), k = 4, mean (robust to one uncertain
  token; `max` is the conservative and `first` the cheapest alternative), and 256 thinking
  tokens before the first cut. Entropy is in nats (EngineArgs.entropy_unit=bits scales τ's
  meaning by 1/ln 2 — set τ accordingly).
"""

from __future__ import annotations

from dataclasses import dataclass

from lm_eval.api.registry import register_model

from .args import require, unescape
from .base import CotbenchLM
from .policy import Decision, Feed, Probe, ProbeSpec, SegmentPlan, ThinkingPolicy
from .protocol import Protocol
from .vocabulary import trigger_token_ids

# τ per model (substring of the model name, lower-case) — summaries of arXiv 2601.22617 [U].
THRESHOLDS = {"deepseek-r1-distill-qwen-1.5b": 0.15, "deepseek-r1-distill-qwen-7b": 0.225}
FALLBACK_THRESHOLD = 0.15
AGGREGATIONS = {
    "mean": lambda xs: sum(xs) / len(xs),
    "max": max,
    "first": lambda xs: xs[0],
}


@dataclass
class EntroCutArgs:
    threshold: float | None = None  # τ; None: the per-model table above
    triggers: tuple[str, ...] = ("Wait",)  # "|"-separated words; every tokenisation is matched
    probe: str = "\\n**Final Answer**\\n\\boxed{"  # ours (paper's not public)
    probe_tokens: int = 4  # k, ours
    aggregation: str = "mean"  # mean | max | first, ours
    min_thinking_tokens: int = 256  # no cut before this many thinking tokens, ours
    max_probes: int = 0  # 0: unlimited

    def validate(self, method: str) -> None:
        require(self.threshold is None or self.threshold >= 0, method, "threshold", self.threshold, "a non-negative number")
        require(bool(self.triggers) and all(self.triggers), method, "triggers", "|".join(self.triggers), "one or more words")
        require(bool(self.probe), method, "probe", self.probe, "a non-empty probe text")
        require(self.probe_tokens >= 1, method, "probe_tokens", self.probe_tokens, "an integer >= 1")
        require(self.aggregation in AGGREGATIONS, method, "aggregation", self.aggregation, "mean, max or first")
        require(self.min_thinking_tokens >= 0, method, "min_thinking_tokens", self.min_thinking_tokens, "an integer >= 0")
        require(self.max_probes >= 0, method, "max_probes", self.max_probes, "an integer >= 0")


def threshold_for(model_name: str) -> tuple[float, bool]:
    """(τ, calibrated?) for a model name or path."""
    name = model_name.lower()
    for key, value in THRESHOLDS.items():
        if key in name:
            return value, True
    return FALLBACK_THRESHOLD, False


class EntroCutPolicy(ThinkingPolicy):
    name = "entrocut"

    def __init__(self, args: EntroCutArgs, trigger_ids, probe_ids, threshold: float):
        self.args, self.trigger_ids, self.threshold = args, trigger_ids, threshold
        self.spec = ProbeSpec(tuple(probe_ids), args.probe_tokens)
        self.aggregate = AGGREGATIONS[args.aggregation]

    def on_token(self, row, token_id):
        if token_id not in self.trigger_ids or row.thinking_tokens < self.args.min_thinking_tokens:
            return Feed()
        if self.args.max_probes and row.probes_done >= self.args.max_probes:
            return Feed()
        return Probe(self.spec)

    def segment_plan(self, row):
        return SegmentPlan(stop_texts=tuple(self.args.triggers))

    def on_probe(self, row, result):
        score = self.aggregate(result.entropies)
        return Decision(cut=score < self.threshold, score=score, reason=f"entropy {score:.4f} < tau {self.threshold}")


# What the paper publishes: τ per model (the table above, chosen from the model name), with
# unpublished "further adjustments for AMC23" (pass them as a per-task threshold). Decoding,
# probe text, k and aggregation are not public, so the preset leaves them at ours.
PAPER_PROTOCOL = Protocol(
    source="arXiv 2601.22617 (text seen via summaries): τ 0.15 (R1-Distill-Qwen-1.5B), 0.225 (7B); decoding not published",
    method_args={"threshold": None},
)


@register_model("cotbench-entrocut")
class EntroCutLM(CotbenchLM):
    method_name = "entrocut"
    MethodArgs = EntroCutArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL
    segment_support = "approximate"  # probe entropies from top-k logprobs (topk_entropy.py)

    def make_policy(self):
        threshold, calibrated = (self.method_args.threshold, True) if self.method_args.threshold is not None else threshold_for(self.cotbench_pretrained)
        self.threshold_calibrated = calibrated
        ids = trigger_token_ids(self.tokenizer, self.method_args.triggers, "cotbench-entrocut")
        probe = self.tokenizer.encode(unescape(self.method_args.probe), add_special_tokens=False)
        return EntroCutPolicy(self.method_args, ids, probe, threshold)

    def describe(self):
        info = super().describe()
        info["method_args"]["threshold_used"] = self.policy.threshold
        info["method_args"]["threshold_calibrated_for_model"] = self.threshold_calibrated
        return info
