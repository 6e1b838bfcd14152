"""R1-style reasoning traces for `cot_arith` problems: the testbed model's training text.

The traces are built so that continuing past a "Wait" is sometimes necessary and the model's
own uncertainty says when (issue 12 item 3): the shape EntroCut (arXiv 2601.22617), DEER
(arXiv 2504.15895) and EAT assume of real reasoning models, which say "Wait" both in the middle
of a solution and after it is settled.

1. one step per operation, "\\n\\n" separated (the step-entropy split), in varied wording,
   each with its equation ("Mia buys 8 more, so 23 + 8 = 31.");
2. after a step whose units digits carry or borrow (where a slip is likely), a caution:
   "Wait, that step carries a ten, so let me be careful." — a reflective trigger in the
   *middle* of the solution, with operations still to go. It holds no number on purpose: a
   check that restated the equation gave the model a second, differing copy of the total to
   continue from (measured: it did);
3. "So the answer is N.";
4. 0–4 redundant loops ("Wait, let me double-check. 23 apples, then buys 8 more, sells 5 and
   finds 3 more. Yes, the answer is 29.") that restate the problem and the stated answer and
   compute nothing — the overthinking a method should cut. They compute nothing on purpose:
   loops that recomputed the chain were where the previous testbed went wrong (it copied an
   operand from the wrong step and turned right answers wrong, so overthinking only hurt);
5. "</think>" and "**Final Answer**\\n\\boxed{N}" (the DeepSeek-R1 habit, and the text the
   answer probes of EntroCut/DEER/Dynasor ask for).

On `truncate_rate` of the traces thinking is cut, as an engine does when a method cuts it or
probes, and the engine's forced text (`CLOSE_TEXT`, or an answer probe of `PROBE_TEXTS`)
follows. `Trace.forced` marks it so that training puts no loss on it: the model learns to answer
after forced text, never to emit it. Where the cut lands (`CUT_KINDS`, drawn uniformly):
- "trigger": where a "Wait" (a caution or a loop) would come, or where thinking ends;
- "anywhere": a random character, as a token budget (s1) or a chunked probe (Dynasor) cuts.
The answer after a cut: once the last operation's total is written, that total (the true
answer, copied); before, a guess — the last total written plus a uniform offset of at most
`GUESS_SPREAD` — so the model learns that it does not know the answer yet, and its
answer-probe entropy there is high. (Training it on the true answer instead, a computation it
cannot do in one step, degraded its arithmetic in a build of 2026-11-30.) So closing at the
first "Wait" costs accuracy when that "Wait" is a mid-solution caution (about 70 % of medium
problems), cutting at a loop costs nothing, and the entropy tells the two apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cotbench.harness_tasks.arith import ArithProblem, Operation

THINK_START = "<think>\n"
THINK_END = "</think>"
# Probability of each number of redundant loops after the answer. After 0, 1 and 2 loops another
# is likelier than stopping (0.95, 0.84, 0.63) and after 3 it is not (0.4), so a model that learns
# these odds and decodes greedily loops three times (sampled, it loops 0–4 times).
LOOP_COUNT_WEIGHTS = (0.05, 0.15, 0.30, 0.30, 0.20)  # 0, 1, 2, 3, 4 loops
DEFAULT_TRUNCATE_RATE = 0.2
GUESS_SPREAD = 9  # a cut before the answer is written answers the last total ± up to this
CUT_KINDS = ("trigger", "anywhere")
CLOSE_TEXT = "\n</think>\n\n"  # what the engine appends when a method cuts (EngineArgs.close_text)
# The answer probes the engine appends before a trigger: DEER's (vllm-deer.py) and EntroCut's
# default (DEER's with the brace).
PROBE_TEXTS = ("\n**Final Answer**\n\\boxed", "\n**Final Answer**\n\\boxed{")
# How a thinking the model ends itself meets "</think>": R1's "\n", or a step separator
# followed by the close text (what the text looks like after a cut at a step boundary).
NATURAL_ENDINGS = (("\n", 0.7), ("\n\n\n", 0.3))

# Each form names the operation (copied from the problem) before its equation: a form that wrote
# the equation first ("Next, 10 - 5 = 5 because Ava sells 5.") made the model recall the next
# amount without the words that point to it, and it copied half of them wrong (build of 2026-11-30).
STEP_FORMS = (
    "{name} {phrase}, so {prev} {op} {amount} = {total}.",
    "{Phrase}: {prev} {op} {amount} = {total}.",
    "Then {name} {phrase}, which gives {prev} {op} {amount} = {total}.",
)
CAUTION_FORM = "Wait, that step {verb} a ten, so let me be careful."
# One opener: a loop's only uncertainty is whether it comes, as the step-entropy premise (arXiv
# 2508.03346: redundant steps are predictable) has it. With three openers the choice among them
# made the loops higher-entropy than the computing steps (0.137 vs 0.116 nats, build c0dbfe3).
LOOP_OPENER = "Wait, let me double-check."


@dataclass(frozen=True)
class Trace:
    problem: ArithProblem
    text: str  # from after "<think>\n" to the end of the answer
    loops: int
    cautions: int  # mid-solution "Wait"s (after carrying or borrowing steps)
    cut: str | None = None  # None (the model closed thinking itself) or one of CUT_KINDS
    forced: tuple[tuple[int, int], ...] = ()  # character spans of text forced by the engine (no loss)


def _sign(op: Operation) -> str:
    return "+" if op.sign > 0 else "-"


def carries(prev: int, op: Operation) -> bool:
    """Whether the units digits carry (addition) or borrow (subtraction)."""
    units, amount = prev % 10, op.amount % 10
    return units + amount >= 10 if op.sign > 0 else units < amount


def _steps(problem: ArithProblem, rng: random.Random) -> tuple[list[str], list[int], list[int], int]:
    """The solution's steps, the indices of the steps a "Wait" starts (cautions and loops), the
    indices of the operation steps, and the number of loops."""
    steps, waits, operations, prev = [f"{problem.name} starts with {problem.start} {problem.item}."], [], [], problem.start
    for op, total in zip(problem.operations, problem.totals):
        fields = dict(name=problem.name, phrase=op.phrase, Phrase=f"{problem.name} {op.phrase}", prev=prev,
                      op=_sign(op), amount=op.amount, total=total)
        operations.append(len(steps))
        steps.append(rng.choice(STEP_FORMS).format(**fields))
        if carries(prev, op):
            waits.append(len(steps))
            steps.append(CAUTION_FORM.format(verb="carries" if op.sign > 0 else "borrows"))
        prev = total
    steps.append(f"So the answer is {problem.answer}.")
    *earlier, last = [op.phrase for op in problem.operations]
    recap = f"{problem.start} {problem.item}, then {', '.join(earlier)} and {last}"
    loops = rng.choices(range(len(LOOP_COUNT_WEIGHTS)), weights=LOOP_COUNT_WEIGHTS)[0]
    for _ in range(loops):
        waits.append(len(steps))
        steps.append(f"{LOOP_OPENER} {recap}. Yes, the answer is {problem.answer}.")
    return steps, waits, operations, loops


def _cut_thinking(steps: list[str], waits: list[int], kind: str, rng: random.Random) -> str:
    """The thinking up to where a cut of `kind` lands."""
    if kind == "trigger":
        return "\n\n".join(steps[: rng.choice([*waits, len(steps)])]) + "\n\n"
    thinking = "\n\n".join(steps)
    return thinking[: rng.randint(len(steps[0]), len(thinking))]


def answer_after_cut(problem: ArithProblem, steps: list[str], operations: list[int], cut_length: int, rng: random.Random) -> int:
    """What a thinking cut after `cut_length` characters answers: the true answer once the last
    operation's step is written whole, else a guess around the last total written."""
    written = [i for i, index in enumerate(operations) if len("\n\n".join(steps[: index + 1])) <= cut_length]
    if len(written) == len(operations):
        return problem.answer
    last_total = problem.totals[written[-1]] if written else problem.start
    return max(0, last_total + rng.randint(-GUESS_SPREAD, GUESS_SPREAD))


def make_trace(problem: ArithProblem, rng: random.Random, truncate_rate: float = DEFAULT_TRUNCATE_RATE) -> Trace:
    steps, waits, operations, loops = _steps(problem, rng)
    cautions = len(waits) - loops
    if rng.random() < truncate_rate:
        kind = rng.choice(CUT_KINDS)
        thinking = _cut_thinking(steps, waits, kind, rng)
        value = answer_after_cut(problem, steps, operations, len(thinking), rng)
        if rng.random() < 0.5:
            forced, answer = CLOSE_TEXT, f"**Final Answer**\n\\boxed{{{value}}}"
        else:
            forced = rng.choice(PROBE_TEXTS)
            answer = f"{value}}}" if forced.endswith("{") else f"{{{value}}}"
        span = ((len(thinking), len(thinking) + len(forced)),)
        return Trace(problem, thinking + forced + answer, loops, cautions, kind, span)
    ending = rng.choices([e for e, _ in NATURAL_ENDINGS], weights=[w for _, w in NATURAL_ENDINGS])[0]
    thinking = "\n\n".join(steps)
    text = f"{thinking}{ending}{THINK_END}\n\n**Final Answer**\n\\boxed{{{problem.answer}}}"
    return Trace(problem, text, loops, cautions)
