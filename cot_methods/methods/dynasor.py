"""`cotbench-dynasor`: Dynasor-CoT certainty probing (Fu et al., arXiv 2412.20993; official
code hao-ai-lab/Dynasor, dynasor/core/cot.py).

Every `chunk_size` thinking tokens the model is asked for its answer with the probe
"... Oh, I suddenly got the answer to the whole problem, **Final Answer**\\n\\n\\[ \\boxed{";
the answer is the probe text up to the first unmatched '}', and it is *certain* when it holds
none of the hesitation words. When the last `consistency` answers are equal, non-empty and
certain, thinking ends and the answer is emitted directly (no further generation), as the
official client does. Defaults: effort "mid" = (3, 64), the CLI default.

Differences from the official client under `protocol=default`, each an argument that
`protocol=paper` sets to the official value:
- probes are greedy (`probe_temperature=0`; official T 0.6 / top-p 0.95), so the main
  sampler's random stream is untouched;
- answers are compared as whitespace-normalised strings (`compare=string`; official: math
  equivalence, here `compare=math` with cotbench's grader, so "1/2" and "\\frac{1}{2}" agree);
- the first probe comes after c thinking tokens (`probe_at_start=false`); the official client
  probes before each chunk, at 0, c, 2c, …, so an early exit comes about one chunk sooner;
- the exit comes at the probe that agreed (`exit_after_chunk=false`). The official client sends
  each probe together with the next chunk request from the same text (cot.py:58-77), appends
  that chunk, and only then checks the probe and emits the final text (lines 99-150): an early
  exit keeps the chunk generated alongside the last probe, up to c more thinking tokens. With
  `exit_after_chunk=true` thinking runs c more tokens after the agreeing probe (no further
  probes), then the final text is emitted. If the model closes its own thinking inside that
  chunk, its answer runs on and the final text is not added (the official client would still
  append it after the chunk).
Both loops (HF engine, segment backends) probe at 0 when `probe_at_start` is set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lm_eval.api.registry import register_model

from ..adapter.args import require, unescape
from ..adapter.base import CotbenchLM
from ..adapter.protocol import Protocol
from ..policy import CloseThinking, Decision, Feed, Probe, ProbeSpec, SegmentPlan, ThinkingPolicy

DYNASOR_PROBE = "... Oh, I suddenly got the answer to the whole problem, **Final Answer**\\n\\n\\[ \\boxed{"
HESITATION_WORDS = ("wait", "hold", "but", "okay", "no", "hmm")  # dynasor/core/cot.py
EFFORTS = {"mild": (8, 64), "low": (5, 64), "mid": (3, 64), "high": (2, 64), "crazy": (2, 32)}
COMPARISONS = ("string", "math")
OFFICIAL_PROBE_TEMPERATURE, OFFICIAL_PROBE_TOP_P = 0.6, 0.95  # dynasor/core/cot.py probe request


@dataclass
class DynasorArgs:
    effort: str = "mid"  # sets consistency and chunk_size unless given
    consistency: int = 0  # k equal answers in a row; 0: from effort
    chunk_size: int = 0  # probe every N thinking tokens; 0: from effort
    probe: str = DYNASOR_PROBE
    probe_tokens: int = 20  # official probe max_tokens
    probe_temperature: float = 0.0  # 0: greedy probes (ours); official 0.6
    probe_top_p: float = 1.0  # official 0.95
    compare: str = "string"  # string (ours) | math (official: equivalence, cotbench's grader)
    probe_at_start: bool = False  # official: probes at 0, c, 2c, … (ours: c, 2c, …)
    exit_after_chunk: bool = False  # official (cot.py:99-150): the chunk generated alongside the agreeing probe is kept

    def validate(self, method: str) -> None:
        require(self.probe_temperature >= 0, method, "probe_temperature", self.probe_temperature, "a number >= 0")
        require(0 < self.probe_top_p <= 1, method, "probe_top_p", self.probe_top_p, "a number in (0, 1]")
        require(self.compare in COMPARISONS, method, "compare", self.compare, " | ".join(COMPARISONS))
        require(self.effort in EFFORTS, method, "effort", self.effort, "one of " + ", ".join(EFFORTS))
        require(self.consistency >= 0, method, "consistency", self.consistency, "an integer >= 0")
        require(self.chunk_size >= 0, method, "chunk_size", self.chunk_size, "an integer >= 0")
        require(self.probe_tokens >= 1, method, "probe_tokens", self.probe_tokens, "an integer >= 1")


def answer_from_probe(text: str) -> str:
    """Text up to the first unmatched closing brace (the end of the boxed answer); "" when the
    box never closed within the probe (no answer). Imported here, as in `same_answer`: the grader
    loads math-verify, which a run that never probes does not need."""
    from cotbench.harness_tasks.grading import text_before_unmatched_brace

    return text_before_unmatched_brace(text) or ""


def is_certain(text: str) -> bool:
    lowered = text.lower()
    return not any(word in lowered for word in HESITATION_WORDS)


def same_answer(a: str, b: str, compare: str = "string") -> bool:
    """Whether two probe answers agree: as strings without whitespace, or (`math`) as
    mathematically equivalent under cotbench's grader (math-verify), as the official client
    compares them with its math-equality check."""
    if re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b):
        return True
    if compare != "math" or not a or not b:
        return False
    from cotbench.harness_tasks.grading import grade_math

    return grade_math(f"\\boxed{{{a}}}", b, think_end=None).correct


class DynasorPolicy(ThinkingPolicy):
    name = "dynasor"

    def __init__(self, consistency: int, chunk_size: int, probe_ids, probe_tokens: int, think_end: str,
                 probe_temperature: float = 0.0, probe_top_p: float = 1.0, compare: str = "string", probe_at_start: bool = False,
                 exit_after_chunk: bool = False):
        self.consistency, self.chunk_size, self.think_end = consistency, chunk_size, think_end
        self.compare, self.probe_at_start, self.exit_after_chunk = compare, probe_at_start, exit_after_chunk
        self.spec = ProbeSpec(tuple(probe_ids), probe_tokens, temperature=probe_temperature, top_p=probe_top_p)

    def probe_due(self, row) -> bool:
        """A probe is due at 0 (official), c, 2c, … unless one ran there or the exit is scheduled."""
        n = row.thinking_tokens
        return bool(n or self.probe_at_start) and n % self.chunk_size == 0 and row.state.get("probed_at") != n and "exit_at" not in row.state

    def on_token(self, row, token_id):
        exit_at = row.state.get("exit_at")
        if exit_at is not None and row.thinking_tokens >= exit_at:  # the chunk alongside the agreeing probe is in
            return CloseThinking(reason=row.state["exit_reason"], final_text=row.state["final_text"])
        if self.probe_due(row):
            row.state["probed_at"] = row.thinking_tokens
            return Probe(self.spec)
        return Feed()

    def segment_plan(self, row):
        n = row.thinking_tokens
        if self.probe_due(row):  # at 0 (probe_at_start): before any thinking
            return SegmentPlan(max_tokens=0)
        next_probe = n + self.chunk_size - n % self.chunk_size
        return SegmentPlan(max_tokens=max(0, min(row.state.get("exit_at", next_probe), next_probe) - n))

    def on_probe(self, row, result):
        answer = answer_from_probe(result.text)
        history = row.state.setdefault("answers", [])
        history.append((answer, bool(answer) and is_certain(result.text)))
        recent = history[-self.consistency :]
        agreeing = sum(same_answer(a, answer, self.compare) for a, _ in recent)
        agreed = len(recent) == self.consistency and all(a and certain for a, certain in recent) and agreeing == len(recent)
        final = f"\n\n...{self.think_end}\n Oh, I have got the answer to the whole problem\n**Final Answer:**\n\\[\n \\boxed{{{answer}}}\n\\]"
        reason = f"{self.consistency} consistent answers"
        if agreed and self.exit_after_chunk:  # exit once the chunk generated alongside this probe is in (cot.py:99-150)
            row.state.update(exit_at=row.thinking_tokens + self.chunk_size, final_text=final,
                             exit_reason=f"{reason} (exit after the chunk generated alongside the probe at {row.thinking_tokens})")
            return Decision(cut=False, score=float(agreeing), reason="exit after this chunk")
        return Decision(cut=agreed, score=float(agreeing), reason=reason, final_text=final if agreed else None)


# Dynasor-CoT as its official client runs: probes sampled at T 0.6 / top-p 0.95, answers
# compared for equivalence, probes before each chunk, the chunk sent alongside the agreeing
# probe kept before the exit; the benchmark script's decoding
# (T 0.6, top-p 0.95, 16,384 tokens) for the main generation.
PAPER_PROTOCOL = Protocol(
    source="arXiv 2412.20993; hao-ai-lab/Dynasor dynasor/core/cot.py (probe request, effort mid) and benchmark script",
    decoding={"temperature": 0.6, "top_p": 0.95, "do_sample": True, "max_gen_toks": 16384},
    method_args={"probe_temperature": OFFICIAL_PROBE_TEMPERATURE, "probe_top_p": OFFICIAL_PROBE_TOP_P, "compare": "math",
                 "probe_at_start": True, "exit_after_chunk": True, "effort": "mid", "probe_tokens": 20},
)


@register_model("cotbench-dynasor")
class DynasorLM(CotbenchLM):
    method_name = "dynasor"
    MethodArgs = DynasorArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL

    def make_policy(self):
        default_k, default_chunk = EFFORTS[self.method_args.effort]
        consistency = self.method_args.consistency or default_k
        chunk = self.method_args.chunk_size or default_chunk
        probe = self.tokenizer.encode(unescape(self.method_args.probe), add_special_tokens=False)
        args = self.method_args
        return DynasorPolicy(consistency, chunk, probe, args.probe_tokens, self.engine_args.think_end,
                             args.probe_temperature, args.probe_top_p, args.compare, args.probe_at_start, args.exit_after_chunk)
