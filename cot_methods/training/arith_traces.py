"""R1-style reasoning traces for `cot_arith` problems: the testbed model's training text.

The traces are built so that reflection is sometimes necessary and the model's own
uncertainty says when (issue 12 item 3; the shape EntroCut arXiv 2601.22617, DEER
arXiv 2504.15895 and EAT assume of real reasoning models):

1. a *glance*: the problem restated in one line ("Mia has 23 apples; the changes are +17,
   -8, +5.") with no result. A model that is stopped here must produce the answer in one
   shot, without intermediate steps; a 4-layer model can do that for some easy problems and
   rarely for medium/hard ones, so its answer-probe entropy here is its genuine uncertainty;
2. "Wait, let me work it out step by step." — the first trigger — then an exact
   verification, one operation per step ("\\n\\n" separated, the step-entropy split) in varied
   wording, and "So the answer is N.";
3. then 0–4 redundant re-verification loops ("Wait, let me double-check. <the same
   equations>. Yes, the answer is N.") that repeat the exact result: the overthinking that
   costs tokens and changes nothing;
4. then "</think>" and "**Final Answer**\\n\\boxed{N}" (the DeepSeek-R1 habit, and the text
   the answer probes of EntroCut/DEER/Dynasor ask for).

So "close at the first trigger" answers from the glance (one shot: often wrong on medium),
full reasoning answers from the verification, and a probe after the verification only copies
a stated result (low entropy). Entropy-gated cutting can then keep accuracy and save the loops
while a first-trigger cut cannot — the distinction these methods claim.

On `truncate_rate` of the traces thinking is cut, as an engine does when a method cuts it,
and the text the engine forces there (`CLOSE_TEXT` or the answer probe `PROBE_TEXT`) is
marked in `Trace.forced` so training puts no loss on it (the model learns to answer after
forced text, never to emit it). Where the cut lands:
- "glance": right where the first "Wait" would come; the answer is the true one, which the
  model can only reach in one shot (the training target of its own best guess);
- "step": before a later "Wait" (a loop opener) or at the end of thinking; the answer is the
  last stated one;
- "anywhere": a random character, as a token budget (s1) cuts; the answer is the last
  result the thinking reached ("answer is N", else "= N"), or the one-shot answer if the
  cut falls in the glance — a cut model answers from where its thought stands.
Earlier versions trained carry slips corrected by "Wait"; the built model never slipped at
inference and learnt spurious corrections instead, so they are gone.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from cotbench.harness_tasks.arith import ArithProblem

THINK_START = "<think>\n"
THINK_END = "</think>"
# Probability of each number of redundant verification loops after the verified answer.
LOOP_COUNT_WEIGHTS = (0.10, 0.25, 0.30, 0.20, 0.15)  # 0, 1, 2, 3, 4 loops
DEFAULT_TRUNCATE_RATE = 0.3
CUT_KINDS = ("glance", "step", "anywhere")  # drawn uniformly for a truncated trace
CLOSE_TEXT = "\n</think>\n\n"  # what the engine appends when a method cuts (EngineArgs.close_text)
# The answer probe as DEER (vllm-deer.py) forces it; EntroCut's default adds the "{".
PROBE_TEXT = "\n**Final Answer**\n\\boxed"
# How a thinking the model ends itself meets "</think>": R1's "\n", or a step separator
# followed by the close text (what the text looks like after a cut at a step boundary).
NATURAL_ENDINGS = (("\n", 0.7), ("\n\n\n", 0.3))
_LAST_ANSWER = re.compile(r"answer is (\d+)\.")
_LAST_RESULT = re.compile(r"= (\d+)(?=\D)")  # a complete number (a non-digit follows)

GLANCE_FORMS = (
    "{name} has {start} {item}; the changes are {changes}.",
    "{start} {item} to begin with, then {changes}.",
)
FIRST_WAITS = ("Wait, let me work it out step by step.", "Wait, let me compute it step by step.")
STEP_FORMS = (
    "{name} {phrase}, so {prev} {op} {amount} = {total}.",
    "{Phrase}: {prev} {op} {amount} = {total}.",
    "Next, {prev} {op} {amount} = {total} because {name} {phrase}.",
)
LOOP_OPENERS = ("Wait, let me double-check.", "Wait, let me verify that.", "Wait, let me check again.")


@dataclass(frozen=True)
class Trace:
    problem: ArithProblem
    text: str  # from after "<think>\n" to the end of the answer
    loops: int
    cut: str | None = None  # None (the model closed thinking itself) or one of CUT_KINDS
    forced: tuple[tuple[int, int], ...] = ()  # character spans of text forced by the engine (no loss)


def _sign(op) -> str:
    return "+" if op.sign > 0 else "-"


def _glance(problem: ArithProblem, rng: random.Random) -> str:
    changes = ", ".join(f"{_sign(op)}{op.amount}" for op in problem.operations)
    return rng.choice(GLANCE_FORMS).format(name=problem.name, start=problem.start, item=problem.item, changes=changes)


def _recap(problem: ArithProblem) -> str:
    prev, parts = problem.start, []
    for op, total in zip(problem.operations, problem.totals):
        parts.append(f"{prev} {_sign(op)} {op.amount} = {total}")
        prev = total
    return ", ".join(parts)


def _verification_steps(problem: ArithProblem, rng: random.Random) -> list[str]:
    """The exact pass: one operation per step, each with its equation."""
    steps, prev = [], problem.start
    for op, total in zip(problem.operations, problem.totals):
        form = rng.choice(STEP_FORMS)
        steps.append(
            form.format(
                name=problem.name,
                phrase=op.phrase,
                Phrase=f"{problem.name} {op.phrase}",
                prev=prev,
                op=_sign(op),
                amount=op.amount,
                total=total,
            )
        )
        prev = total
    return steps


def answer_reached(thinking: str, one_shot: int) -> int:
    """The answer a thinking cut here would give: its last stated answer, else its last
    result, else (nothing computed yet) `one_shot`, the answer the model must guess at once."""
    for pattern in (_LAST_ANSWER, _LAST_RESULT):
        found = pattern.findall(thinking)
        if found:
            return int(found[-1])
    return one_shot


def _cut_text(steps: list[str], thinking: str, kind: str, rng: random.Random) -> str:
    """The thinking up to where a cut of `kind` lands."""
    if kind == "glance":
        return steps[0] + "\n\n"
    if kind == "step":
        boundaries = [i for i in range(2, len(steps)) if steps[i].startswith(LOOP_OPENERS)] + [len(steps)]
        return "\n\n".join(steps[: rng.choice(boundaries)]) + "\n\n"
    return thinking[: rng.randint(len(steps[0]), len(thinking))]


def make_trace(problem: ArithProblem, rng: random.Random, truncate_rate: float = DEFAULT_TRUNCATE_RATE) -> Trace:
    steps = [_glance(problem, rng), rng.choice(FIRST_WAITS), *_verification_steps(problem, rng)]
    steps.append(f"So the answer is {problem.answer}.")
    loops = rng.choices(range(len(LOOP_COUNT_WEIGHTS)), weights=LOOP_COUNT_WEIGHTS)[0]
    for _ in range(loops):
        steps.append(f"{rng.choice(LOOP_OPENERS)} {_recap(problem)}. Yes, the answer is {problem.answer}.")
    thinking = "\n\n".join(steps)
    if rng.random() < truncate_rate:
        kind = rng.choice(CUT_KINDS)
        cut = _cut_text(steps, thinking, kind, rng)
        answer = answer_reached(cut, problem.answer)
        if rng.random() < 0.5:
            forced, after = CLOSE_TEXT, f"**Final Answer**\n\\boxed{{{answer}}}"
        else:
            forced, after = PROBE_TEXT, f"{{{answer}}}"
        return Trace(problem, cut + forced + after, loops, kind, ((len(cut), len(cut) + len(forced)),))
    ending = rng.choices([e for e, _ in NATURAL_ENDINGS], weights=[w for _, w in NATURAL_ENDINGS])[0]
    text = f"{thinking}{ending}{THINK_END}\n\n**Final Answer**\n\\boxed{{{problem.answer}}}"
    return Trace(problem, text, loops)
