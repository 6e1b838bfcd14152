"""`cotbench-eat`: EAT, Entropy After </think> (arXiv 2509.26522; official code xidulu/EAT).

After every reasoning step (the thinking text ends with "\\n\\n"), the end of thinking is
forced on top of the cache ("\\n</think>\\n\\n", as compute_entropy_ngram.py) and the entropy
of the single next token is read: EAT_n. Its exponential moving average and EMA variance
(early_stopping_utils.py: m_t = α x_t + (1-α) m_{t-1}, v_t = α (x_t - m_t)^2 + (1-α) v_{t-1},
v_0 = 0) track whether the answer distribution has settled; thinking stops once the variance
falls below δ after a warm-up of min_steps ≈ 4/α steps (README).

α = 0.2 and δ = 1e-3 are OURS: the official code publishes no single pair (its notebooks sweep
α ∈ {0.05, …, 0.3} and δ ∈ {2^-i}), and the paper's text was not available to us.

`protocol=default` probes once the step's "\\n\\n" has been fed, so the model reads
"line\\n\\n\\n</think>\\n\\n" — an extra blank line the official code does not have. With
`replace_separator=true` (set by `protocol=paper`) the probe is taken when the "\\n\\n" token is
sampled, before it is fed, and the probe text stands in for it: the model reads
"line\\n</think>\\n\\n" as in compute_entropy_ngram.py. What `protocol=paper` also sets, each a
named argument whose default is today's rule:
- the entropy's scores (`entropy_at_sampling_temperature`, `entropy_temperature`): softmax of the
  scores of `generate(temperature=0.6)` (generation_utils.py:168-198, T = 0.6 at line 178) in
  bits (line 37), whatever the run's temperature and under greedy decoding too. Default: raw
  logits; `entropy_temperature=0` with `entropy_at_sampling_temperature=true` scales by the
  run's own T (raw under greedy decoding).
- the probe on R1-0528 models (`probe_by_model_name`): compute_entropy_ngram.py:75-78 appends
  one newline after "</think>" for a model whose name contains "0528" ("\\n</think>\\n",
  `probe_r1_0528`), two for the others (`probe`).
- when the stop rule is first checked (`stop_check`). Default `after_warmup`: the first step
  whose variance is compared with δ is min_steps + 1. Paper `official`:
  get_early_stop_point_posthoc (early_stopping_utils.py:19-26) drops the first variance
  (trace[1:]) and then skips min_distance more, so the first compared step is min_steps + 2.
  (That function returns the index into trace[1:], one line before the step whose variance
  fell below δ — a look-ahead an online run cannot have: we stop after the step that decided.)
δ is in the entropy's unit. On segment backends the step end is fed before the policy is asked,
so the extra blank line remains there, and the entropy comes from top-k logprobs (tempered as
`topk_entropy.tempered_topk_logprobs` estimates).
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

OFFICIAL_ENTROPY_TEMPERATURE = 0.6  # generation_utils.py:178 (compute_entropy_ngram's generate)
R1_0528_MARKER = "0528"  # compute_entropy_ngram.py:75: `if '0528' in model_name: num_newline = 1`
# Which step is first compared with δ: min_steps + 1 (ours) or + 2 (early_stopping_utils.py:19-26).
STOP_CHECKS = {"after_warmup": 1, "official": 2}


@dataclass
class EatArgs:
    ema_alpha: float = 0.2  # α, OURS (official notebooks sweep 0.05 … 0.3)
    variance_threshold: float = 1e-3  # δ, OURS (official notebooks sweep 2^-i), in the entropy's unit
    min_steps: int = 0  # 0: ceil(4/α) as the official README suggests (min_distance)
    probe: str = "\\n</think>\\n\\n"  # compute_entropy_ngram.py:114 suffix (num_newline = 2)
    replace_separator: bool = False  # probe in place of the step's "\n\n" (official; see above)
    entropy_at_sampling_temperature: bool = False  # entropy of softmax(logits / T) (official)
    entropy_temperature: float = 0.0  # T of the above: > 0 fixed (official 0.6, generation_utils.py:178); 0: the run's
    probe_by_model_name: bool = False  # official: on a model named "…0528…" use probe_r1_0528
    probe_r1_0528: str = "\\n</think>\\n"  # compute_entropy_ngram.py:75-78, 114 (num_newline = 1)
    stop_check: str = "after_warmup"  # after_warmup (ours) | official (early_stopping_utils.py:19-26)

    def validate(self, method: str) -> None:
        require(0 < self.ema_alpha <= 1, method, "ema_alpha", self.ema_alpha, "a number in (0, 1]")
        require(self.variance_threshold > 0, method, "variance_threshold", self.variance_threshold, "a positive number")
        require(self.min_steps >= 0, method, "min_steps", self.min_steps, "an integer >= 0")
        require(self.entropy_temperature >= 0, method, "entropy_temperature", self.entropy_temperature, "a number >= 0 (0: the run's)")
        require(bool(self.probe_r1_0528), method, "probe_r1_0528", self.probe_r1_0528, "a non-empty probe text")
        require(self.stop_check in STOP_CHECKS, method, "stop_check", self.stop_check, " | ".join(STOP_CHECKS))


def ema_update(state: dict, value: float, alpha: float) -> float:
    """One step of EAT's EMA mean/variance; returns the new variance."""
    if "mean" not in state:
        state["mean"], state["variance"] = value, 0.0
        return 0.0
    state["mean"] = alpha * value + (1 - alpha) * state["mean"]
    state["variance"] = alpha * (value - state["mean"]) ** 2 + (1 - alpha) * state["variance"]
    return state["variance"]


def probe_for(args: EatArgs, model_name: str) -> str:
    """The probe text for a model: `probe_r1_0528` on an R1-0528 model when `probe_by_model_name`."""
    if args.probe_by_model_name and R1_0528_MARKER in model_name:
        return args.probe_r1_0528
    return args.probe


class EatPolicy(ThinkingPolicy):
    name = "eat"

    def __init__(self, args: EatArgs, probe_ids, encode=None, probe_text: str | None = None):
        self.args, self.encode = args, encode
        self.probe_text = unescape(probe_text if probe_text is not None else args.probe)
        self.min_steps = args.min_steps or math.ceil(4 / args.ema_alpha)
        self.first_checked_step = self.min_steps + STOP_CHECKS[args.stop_check]
        self.spec = self.probe_spec(probe_ids)

    def probe_spec(self, prefix_ids) -> ProbeSpec:
        return ProbeSpec(tuple(prefix_ids), 1, entropy_at_sampling_temperature=self.args.entropy_at_sampling_temperature,
                         entropy_temperature=self.args.entropy_temperature)

    def probe_text_in_place_of_separator(self, token_text: str) -> str:
        """What to feed instead of the sampled token that ends a step, so that the model reads
        the step's line followed directly by the probe ("line\\n</think>\\n\\n")."""
        probe = self.probe_text
        if len(token_text) >= len(STEP_SEPARATOR):  # the token holds the whole separator
            return token_text[: -len(STEP_SEPARATOR)] + probe
        already_fed = STEP_SEPARATOR[: len(STEP_SEPARATOR) - len(token_text)]  # e.g. one "\n"
        return probe[len(already_fed) :] if probe.startswith(already_fed) else probe

    def on_token(self, row, token_id):
        if self.args.replace_separator:
            # The sampled token ends a step: probe before it is fed, in its place.
            if row.state.get("probed_at") != row.thinking_tokens and (row.tail_text() + row.token_text).endswith(STEP_SEPARATOR):
                row.state["probed_at"] = row.thinking_tokens
                return Probe(self.probe_spec(self.encode(self.probe_text_in_place_of_separator(row.token_text))))
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
        settled = row.state["steps"] >= self.first_checked_step and variance < self.args.variance_threshold
        return Decision(cut=settled, score=variance, reason=f"EMA variance {variance:.2e} < {self.args.variance_threshold}")


# EAT as the official code measures it; α and δ stay ours (not published where we could read).
PAPER_PROTOCOL = Protocol(
    source="arXiv 2509.26522; xidulu/EAT compute_entropy_ngram.py (suffix, R1-0528 suffix), generation_utils.py "
           "(bits, scores at T 0.6), early_stopping_utils.py (first check)",
    method_args={"probe": "\\n</think>\\n\\n", "replace_separator": True, "entropy_at_sampling_temperature": True,
                 "entropy_temperature": OFFICIAL_ENTROPY_TEMPERATURE, "probe_by_model_name": True, "stop_check": "official"},
    engine_args={"entropy_unit": "bits"},
)


@register_model("cotbench-eat")
class EatLM(CotbenchLM):
    method_name = "eat"
    MethodArgs = EatArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL
    segment_support = "approximate"  # the entropy after </think> from top-k logprobs (topk_entropy.py)

    def make_policy(self):
        self.probe_used = probe_for(self.method_args, self.cotbench_pretrained)
        probe = self.tokenizer.encode(unescape(self.probe_used), add_special_tokens=False)
        return EatPolicy(self.method_args, probe, lambda text: self.tokenizer.encode(text, add_special_tokens=False), self.probe_used)

    def describe(self):
        info = super().describe()
        info["method_args"]["probe_used"] = self.probe_used
        return info
