"""`cotbench-entrocut`: EntroCut (Yan, Liu, Wang; arXiv 2601.22617), training-free truncation.

At a reflective trigger token ("Wait", …) met while thinking, a probe text is appended on top
of the KV cache and k tokens are decoded greedily; the full-vocabulary entropy
H(t) = -Σ_v p(v|x≤t) log p(v|x≤t) of each probe step's next-token distribution is aggregated
(mean by default). Low entropy means the model is already confident: below τ we close
thinking and let the model answer. The probe is discarded, so continuing is exact.

What is the paper's and what is ours (see docs/METHODS.md §1, all [U]):
- τ = 0.15 (DeepSeek-R1-Distill-Qwen-1.5B) and 0.225 (7B) come from summaries of the paper;
  they are the per-model defaults below, overridable with `threshold=`. For other models we
  fall back to 0.15 and record that the threshold is uncalibrated.
- The paper tunes τ per model *and* per benchmark ("further adjustments for AMC23", values
  not public), so `threshold=` also takes per-task values: `threshold=cot_amc23:0.2|default:0.15`
  (lm-eval task names; `default` for every other task, else the per-model table). Each
  request gets its task's τ, chosen from the request itself (a `--repeats` variant such as
  cot_amc23_k16 takes cot_amc23's τ unless the spec names the variant), never from adapter
  state set between tasks; the record says which τ, which task and which entry of the spec.
- The probe text, k, the aggregation and the minimum thinking length are not public. Our
  defaults: the DEER-style answer probe "\\n**Final Answer**\\n\\boxed{" (it asks for the answer,
  so low entropy reads as "the answer is settled"), k = 4, mean (robust to one uncertain
  token; `max` is the conservative and `first` the cheapest alternative), and 256 thinking
  tokens before the first cut. Entropy is in nats (EngineArgs.entropy_unit=bits scales τ's
  meaning by 1/ln 2 — set τ accordingly).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lm_eval.api.registry import register_model

from cotbench.errors import CotbenchError

from ...repeats import split_repeats
from ..adapter.args import require, unescape
from ..adapter.base import CotbenchLM
from ..adapter.protocol import Protocol
from ..policy import Decision, Feed, Probe, ProbeSpec, SegmentPlan, ThinkingPolicy
from ..signals.vocabulary import trigger_token_ids

# τ per model (substring of the model name, lower-case) — summaries of arXiv 2601.22617 [U].
THRESHOLDS = {"deepseek-r1-distill-qwen-1.5b": 0.15, "deepseek-r1-distill-qwen-7b": 0.225}
FALLBACK_THRESHOLD = 0.15
AGGREGATIONS = {
    "mean": lambda xs: sum(xs) / len(xs),
    "max": max,
    "first": lambda xs: xs[0],
}


DEFAULT_TASK = "default"
THRESHOLD_SPEC_HELP = "a number, or task:number pairs joined by '|', e.g. cot_amc23:0.2|default:0.15"


def parse_thresholds(spec, method: str) -> dict[str, float]:
    """τ per task from `threshold=`: a plain number is every task's; "task:τ|…|default:τ"."""
    if spec is None:
        return {}
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return {DEFAULT_TASK: float(spec)}
    text = str(spec).strip()
    try:
        return {DEFAULT_TASK: float(text)}
    except ValueError:
        pass
    thresholds: dict[str, float] = {}
    for part in text.split("|"):
        task, colon, value = (piece.strip() for piece in part.partition(":"))
        try:
            number = float(value)
        except ValueError:
            number = None
        if not colon or not task or number is None or task in thresholds:
            reason = f"duplicate task {task!r}" if task in thresholds else f"bad entry {part!r}"
            raise CotbenchError(f"{method}: threshold={text!r} is invalid ({reason}; expected {THRESHOLD_SPEC_HELP})")
        thresholds[task] = number
    return thresholds


@dataclass
class EntroCutArgs:
    threshold: str | float | None = None  # τ, or τ per task (see above); None: the per-model table
    triggers: tuple[str, ...] = ("Wait",)  # "|"-separated words; every tokenisation is matched
    probe: str = "\\n**Final Answer**\\n\\boxed{"  # ours (paper's not public)
    probe_tokens: int = 4  # k, ours
    aggregation: str = "mean"  # mean | max | first, ours
    min_thinking_tokens: int = 256  # no cut before this many thinking tokens, ours
    max_probes: int = 0  # 0: unlimited
    thresholds: dict = field(default_factory=dict, init=False)  # parsed `threshold`: task -> τ

    def validate(self, method: str) -> None:
        self.thresholds = parse_thresholds(self.threshold, method)
        if set(self.thresholds) == {DEFAULT_TASK}:  # a plain number stays a number
            self.threshold = self.thresholds[DEFAULT_TASK]
        for task, value in self.thresholds.items():
            shown = self.threshold if task == DEFAULT_TASK and len(self.thresholds) == 1 else f"{task}:{value}"
            require(value >= 0, method, "threshold", shown, "a non-negative number")
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

    def threshold_for_task(self, task: str | None) -> tuple[float, str, bool]:
        """(τ, the spec entry it came from, calibrated?) for one lm-eval task: its own τ (the task as
        named, else the task a --repeats variant repeats), the spec's default, or the model's."""
        thresholds = self.method_args.thresholds
        for name in (task, split_repeats(task)[0] if task else None):
            if name in thresholds:
                return thresholds[name], name, True
        if DEFAULT_TASK in thresholds:
            return thresholds[DEFAULT_TASK], DEFAULT_TASK, True
        threshold, calibrated = threshold_for(self.cotbench_pretrained)
        return threshold, "model", calibrated

    def make_policy(self):
        """One policy per τ the run can use (each task's, the default's or the model's), built once."""
        ids = trigger_token_ids(self.tokenizer, self.method_args.triggers, "cotbench-entrocut")
        probe = self.tokenizer.encode(unescape(self.method_args.probe), add_special_tokens=False)
        thresholds = {*self.method_args.thresholds.values(), self.threshold_for_task(None)[0]}
        self.policies = {threshold: EntroCutPolicy(self.method_args, ids, probe, threshold) for threshold in thresholds}
        return self.policies[self.threshold_for_task(None)[0]]

    def policy_for(self, row):
        """The request's task decides τ; the record says which τ, task and spec entry."""
        threshold, entry, calibrated = self.threshold_for_task(row.task)
        return self.policies[threshold], {"threshold_used": threshold, "threshold_task": row.task, "threshold_entry": entry,
                                          "threshold_calibrated_for_model": calibrated}
