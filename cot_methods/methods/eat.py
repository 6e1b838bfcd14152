"""`cotbench-eat`: EAT, Entropy After </think> (arXiv 2509.26522; official code xidulu/EAT).

After every reasoning step (the thinking text ends with "\\n\\n"), the end of thinking is
forced on top of the cache ("\\n</think>\\n\\n", as compute_entropy_ngram.py) and the entropy
of the single next token is read: EAT_n. Its exponential moving average and EMA variance
(early_stopping_utils.py: m_t = α x_t + (1-α) m_{t-1}, v_t = α (x_t - m_t)^2 + (1-α) v_{t-1},
v_0 = 0) track whether the answer distribution has settled; thinking stops at the first step
n ≥ min_steps with v_n < δ. The paper's α and δ were not visible to us: α = 0.2 and
δ = 1e-3 are our defaults; min_steps follows the README's ≈ 4/α warm-up.

`protocol=default` probes once the step's "\\n\\n" has been fed, so the model reads
"line\\n\\n\\n</think>\\n\\n" — an extra blank line the official code does not have. With
`replace_separator=true` (set by `protocol=paper`) the probe is taken when the "\\n\\n" token is
sampled, before it is fed, and the probe text stands in for it: the model reads
"line\\n</think>\\n\\n" as in compute_entropy_ngram.py. `protocol=paper` also reads the entropy
in bits on the temperature-scaled scores (softmax(logits / T)), as the official code does;
δ is in the entropy's unit. On segment backends the step end is fed before the policy is
asked, so the extra blank line remains there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lm_eval.api.registry import register_model

from ..adapter.args import require, unescape
from ..adapter.base import CotbenchLM
from ..adapter.protocol import Protocol
from ..policy import Decision, Feed, Probe, ProbeSpec, SegmentPlan, ThinkingPolicy
from ..signals.steps import STEP_SEPARATOR


@dataclass
class EatArgs:
    ema_alpha: float = 0.2  # α, ours [U]
    variance_threshold: float = 1e-3  # δ, ours [U]
    min_steps: int = 0  # 0: ceil(4/α) as the official README suggests
    probe: str = "\\n</think>\\n\\n"  # compute_entropy_ngram.py suffix
    replace_separator: bool = False  # probe in place of the step's "\n\n" (official; see above)
    entropy_at_sampling_temperature: bool = False  # entropy of softmax(logits / T) (official)

    def validate(self, method: str) -> None:
        require(0 < self.ema_alpha <= 1, method, "ema_alpha", self.ema_alpha, "a number in (0, 1]")
        require(self.variance_threshold > 0, method, "variance_threshold", self.variance_threshold, "a positive number")
        require(self.min_steps >= 0, method, "min_steps", self.min_steps, "an integer >= 0")


def ema_update(state: dict, value: float, alpha: float) -> float:
    """One step of EAT's EMA mean/variance; returns the new variance."""
    if "mean" not in state:
        state["mean"], state["variance"] = value, 0.0
        return 0.0
    state["mean"] = alpha * value + (1 - alpha) * state["mean"]
    state["variance"] = alpha * (value - state["mean"]) ** 2 + (1 - alpha) * state["variance"]
    return state["variance"]


class EatPolicy(ThinkingPolicy):
    name = "eat"

    def __init__(self, args: EatArgs, probe_ids, encode=None):
        self.args, self.encode = args, encode
        self.min_steps = args.min_steps or math.ceil(4 / args.ema_alpha)
        self.spec = ProbeSpec(tuple(probe_ids), 1, entropy_at_sampling_temperature=args.entropy_at_sampling_temperature)

    def probe_text_in_place_of_separator(self, token_text: str) -> str:
        """What to feed instead of the sampled token that ends a step, so that the model reads
        the step's line followed directly by the probe ("line\\n</think>\\n\\n")."""
        probe = unescape(self.args.probe)
        if len(token_text) >= len(STEP_SEPARATOR):  # the token holds the whole separator
            return token_text[: -len(STEP_SEPARATOR)] + probe
        already_fed = STEP_SEPARATOR[: len(STEP_SEPARATOR) - len(token_text)]  # e.g. one "\n"
        return probe[len(already_fed) :] if probe.startswith(already_fed) else probe

    def on_token(self, row, token_id):
        if self.args.replace_separator:
            # The sampled token ends a step: probe before it is fed, in its place.
            if row.state.get("probed_at") != row.thinking_tokens and (row.tail_text() + row.token_text).endswith(STEP_SEPARATOR):
                row.state["probed_at"] = row.thinking_tokens
                prefix = self.encode(self.probe_text_in_place_of_separator(row.token_text))
                return Probe(ProbeSpec(tuple(prefix), 1, entropy_at_sampling_temperature=self.args.entropy_at_sampling_temperature))
            return Feed()
        # The previous token closed a step: measure before the next step starts.
        if row.state.get("probed_at") != row.thinking_tokens and row.tail_text().endswith(STEP_SEPARATOR):
            row.state["probed_at"] = row.thinking_tokens
            return Probe(self.spec)
        return Feed()

    def segment_plan(self, row):
        return SegmentPlan(boundary_texts=(STEP_SEPARATOR,))

    def on_probe(self, row, result):
        variance = ema_update(row.state, result.entropies[0], self.args.ema_alpha)
        row.state["steps"] = row.state.get("steps", 0) + 1
        settled = row.state["steps"] > self.min_steps and variance < self.args.variance_threshold
        return Decision(cut=settled, score=variance, reason=f"EMA variance {variance:.2e} < {self.args.variance_threshold}")


# EAT as the official code measures it; α and δ stay ours (not published where we could read).
PAPER_PROTOCOL = Protocol(
    source="arXiv 2509.26522; xidulu/EAT compute_entropy_ngram.py (suffix, bits, T-scaled scores)",
    method_args={"probe": "\\n</think>\\n\\n", "replace_separator": True, "entropy_at_sampling_temperature": True},
    engine_args={"entropy_unit": "bits"},
)


@register_model("cotbench-eat")
class EatLM(CotbenchLM):
    method_name = "eat"
    MethodArgs = EatArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL
    segment_support = "approximate"  # the entropy after </think> from top-k logprobs (topk_entropy.py)

    def make_policy(self):
        probe = self.tokenizer.encode(unescape(self.method_args.probe), add_special_tokens=False)
        return EatPolicy(self.method_args, probe, lambda text: self.tokenizer.encode(text, add_special_tokens=False))
