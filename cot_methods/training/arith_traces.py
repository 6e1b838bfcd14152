"""R1-style reasoning traces for `cot_arith` problems: the testbed model's training text.

The traces imitate what makes real reasoning models overthink, with known ground truth:

- thinking steps separated by "\\n\\n" (the step-entropy split), one operation per step, in
  varied wording, then "So the answer is N.";
- on `slip_rate` of the problems whose first step is an addition with a carry, that step
  forgets the carry (17 + 5 = 12); the chain goes on from the wrong total, states a wrong
  answer, and a later "Wait, …" step catches the slip and redoes the chain — meant to make
  reflection sometimes useful. Measured: the built model never slips at inference (it learns
  its sums from the correct drills of testbed.py), so on the testbed it is not;
- then 0–4 redundant verification loops ("Wait, let me double-check. …") that recompute the
  same numbers and change nothing — the overthinking the methods should cut;
- then "</think>", and the answer "**Final Answer**\\n\\boxed{N}" (the DeepSeek-R1 habit, and
  the text the answer probes of EntroCut/DEER/Dynasor ask for);
- on `truncate_rate` of the traces the thinking stops at a random point, as when a method
  cuts it, with the engine's close text, and the answer is the last result the truncated
  thinking reached (its last "answer is N", else its last complete "= N") — so a cut model
  answers from where its thought stands, right or wrong, as real models do.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from cotbench.harness_tasks.arith import ArithProblem

THINK_START = "<think>\n"
THINK_END = "</think>"
# Probability of each number of redundant verification loops after the final answer.
LOOP_COUNT_WEIGHTS = (0.10, 0.25, 0.30, 0.20, 0.15)  # 0, 1, 2, 3, 4 loops
DEFAULT_SLIP_RATE = 0.5  # of the problems whose first step carries
DEFAULT_TRUNCATE_RATE = 0.15
CLOSE_TEXT = "\n</think>\n\n"  # what the engine appends when a method cuts (EngineArgs.close_text)
# How a thinking the model ends itself meets "</think>": R1's "\n", or a step separator
# followed by the close text (what the text looks like after a cut at a step boundary).
NATURAL_ENDINGS = (("\n", 0.7), ("\n\n\n", 0.3))
_LAST_ANSWER = re.compile(r"answer is (\d+)\.")
_LAST_RESULT = re.compile(r"= (\d+)[.,]")

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
    slipped: bool
    loops: int
    truncated: bool = False


def first_step_carries(problem: ArithProblem) -> bool:
    op = problem.operations[0]
    return op.sign > 0 and (problem.start % 10) + (op.amount % 10) >= 10


def _recap(problem: ArithProblem, totals: list[int], start: int) -> str:
    prev, parts = start, []
    for op, total in zip(problem.operations, totals):
        parts.append(f"{prev} {'+' if op.sign > 0 else '-'} {op.amount} = {total}")
        prev = total
    return ", ".join(parts)


def _forward_steps(problem: ArithProblem, rng: random.Random, first_total: int) -> tuple[list[str], list[int]]:
    """The first pass; `first_total` differs from the true one when the first step slips."""
    steps = [f"{problem.name} starts with {problem.start} {problem.item}."]
    totals, prev = [], problem.start
    for index, op in enumerate(problem.operations):
        total = first_total if index == 0 else prev + op.sign * op.amount
        form = rng.choice(STEP_FORMS)
        steps.append(
            form.format(
                name=problem.name,
                phrase=op.phrase,
                Phrase=f"{problem.name} {op.phrase}",
                prev=prev,
                op="+" if op.sign > 0 else "-",
                amount=op.amount,
                total=total,
            )
        )
        totals.append(total)
        prev = total
    return steps, totals


def answer_reached(thinking: str, start: int) -> int:
    """The answer a thinking cut here would give: its last stated answer, else its last result."""
    for pattern in (_LAST_ANSWER, _LAST_RESULT):
        found = pattern.findall(thinking)
        if found:
            return int(found[-1])
    return start


def make_trace(
    problem: ArithProblem,
    rng: random.Random,
    slip_rate: float = DEFAULT_SLIP_RATE,
    truncate_rate: float = DEFAULT_TRUNCATE_RATE,
) -> Trace:
    first = problem.operations[0]
    true_first = problem.start + first.sign * first.amount
    slipped = False
    if first_step_carries(problem) and rng.random() < slip_rate:
        slipped = min(problem.totals) >= 10  # the wrong chain (every total 10 less) stays >= 0
    steps, totals = _forward_steps(problem, rng, true_first - 10 if slipped else true_first)
    steps.append(f"So the answer is {totals[-1]}.")
    if slipped:
        steps.append(f"Wait, {problem.start} + {first.amount} is {true_first}, not {true_first - 10}. Let me redo it.")
        steps.append(_recap(problem, problem.totals, problem.start) + ".")
        steps.append(f"So the answer is {problem.answer}.")
    loops = rng.choices(range(len(LOOP_COUNT_WEIGHTS)), weights=LOOP_COUNT_WEIGHTS)[0]
    for _ in range(loops):
        steps.append(
            f"{rng.choice(LOOP_OPENERS)} {_recap(problem, problem.totals, problem.start)}. Yes, the answer is {problem.answer}."
        )
    thinking = "\n\n".join(steps)
    if rng.random() < truncate_rate:
        cut = rng.randint(len(steps[0]), len(thinking))
        thinking = thinking[:cut]
        answer = answer_reached(thinking, problem.start)
        return Trace(problem, f"{thinking}{CLOSE_TEXT}**Final Answer**\n\\boxed{{{answer}}}", slipped, loops, truncated=True)
    ending = rng.choices([e for e, _ in NATURAL_ENDINGS], weights=[w for _, w in NATURAL_ENDINGS])[0]
    text = f"{thinking}{ending}{THINK_END}\n\n**Final Answer**\n\\boxed{{{problem.answer}}}"
    return Trace(problem, text, slipped, loops)
