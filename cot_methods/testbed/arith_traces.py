"""R1-style reasoning traces for `cot_arith` problems: the testbed model's training text.

The traces are built so that continuing past a "Wait" is sometimes necessary and the model's
own uncertainty says when (issue 12): the shape EntroCut (arXiv 2601.22617), DEER
(arXiv 2504.15895) and EAT (arXiv 2509.26522) assume of real reasoning models, which say "Wait"
both in the middle of a solution and after it is settled.

1. the computation: the start and one line per operation, "\\n" separated, in varied wording,
   each with its equation ("Mia first buys 8 more, so 23 + 8 = 31."). It is ONE step of the
   step-entropy split ("\\n\\n"); everything after the last operation is a step of its own
   (see `Solution`);
2. after a step whose units digits carry or borrow (where a slip is likely), a caution:
   "Wait, that step carries a ten, so let me be careful." — a reflective trigger in the
   *middle* of the solution, with operations still to go. It holds no number on purpose: a
   check that restated the equation gave the model a second, differing copy of the total to
   continue from (measured: it did);
3. "So the answer is N.";
4. 0–4 redundant loops ("Wait, let me double-check. Mia has 23 apples. Mia first buys 8 more. Mia
   then sells 5. Mia finally finds 3 more. Yes, the answer is 26.") that restate the problem word for
   word and the stated answer and compute nothing — the overthinking a method should cut;
5. "</think>", then the answer section `ANSWER_SECTION`: the value first ("29 apples."), then
   "**Final Answer**\\n\\boxed{29}" (the DeepSeek-R1 habit). The value comes first so that the
   first token after "</think>" carries the model's uncertainty about the answer, as EAT's
   premise has it (entropy after </think> settles once the answer is settled); a fixed first
   word would make that entropy zero whatever the model knows.

`REFLECTION_FREE_RATE` of the traces have no caution and no loop, and close with a statement
("Kim ends with 21 coins."): a model whose reflection words are banned (NoWait, arXiv 2506.08343)
still has a path it learnt (issue 23). The statement is a step of its own because where a loop's
"Wait" would come the text is "\\n\\n" and a word, which the tokenizer splits as two "\\n"; a
thinking that closes there instead ("\\n\\n</think>") has one "\\n\\n" token, another path.

**Every method's forced text is in distribution** (issue 23). On `CUT_RATE` of the traces thinking
is cut, as an engine does when a method cuts it or probes, and one of `FORCED_TEXTS` follows —
each adapter's close text, answer prefix and probe prefix under `protocol=default` and
`protocol=paper` (a test collects them from the adapters and fails on one the testbed has not
learnt). On `SKIP_RATE` the thinking is compressed as post-hoc step entropy compresses it (⌊κN⌋
steps replaced by "[SKIP]", arXiv 2508.03346) and closed; only the answer after it carries loss,
so at 0.05 the model had too few of them to read a kept statement after [SKIP]s (seed 0, build of
2026-12-07: post-hoc step entropy at κ 0.8 lost 8 of 21 easy generations that kept only the
closing statement, 0.833 vs 1.000 with full reasoning). `Trace.forced` marks forced text so
that training puts no loss on it: the model learns to answer after forced text, never to emit
it. Where a cut lands (`CUT_KINDS`, drawn uniformly):
- "trigger": where a "Wait" (a caution or a loop) would come, or where thinking ends;
- "step": after any step, with or without its "\\n\\n" (EAT probes at step ends; its paper
  protocol puts the probe in place of the separator);
- "anywhere": a random character, as a token budget (s1) or a chunked probe (Dynasor) cuts.
The answer after a cut: once the last operation's total is written (for compressed thinking:
still visible), that total (the true answer, copied); before, a guess — the last total written
plus a uniform offset of at most `GUESS_SPREAD` — so the model learns that it does not know the
answer yet, and its answer-probe entropy there is high. (Training it on the true answer instead,
a computation it cannot do in one step, degraded its arithmetic in a build of 2026-11-30.) So
closing at the first "Wait" costs accuracy when that "Wait" is a mid-solution caution (about 70 %
of medium problems), cutting at a loop costs nothing, and the entropy tells the two apart.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from cotbench.harness_tasks.arith import ArithProblem, Operation, adverbs

THINK_START = "<think>\n"
THINK_END = "</think>"
SKIP_TOKEN = "[SKIP]"  # what post-hoc step entropy writes for a pruned step (cot_methods/signals/steps.py)
STEP_SEPARATOR = "\n\n"  # the step split (cot_methods/signals/steps.py)
LINE_SEPARATOR = "\n"  # between the computation's lines (one step)
# Probability of each number of redundant loops after the answer. After 0, 1 and 2 loops another
# is likelier than stopping (0.95, 0.84, 0.63) and after 3 it is not (0.4), so a model that learns
# these odds and decodes greedily loops three times (sampled, it loops 0–4 times).
LOOP_COUNT_WEIGHTS = (0.05, 0.15, 0.30, 0.30, 0.20)  # 0, 1, 2, 3, 4 loops
REFLECTION_FREE_RATE = 0.15  # traces with no caution and no loop (NoWait's path)
CUT_RATE = 0.25  # traces cut, with one of FORCED_TEXTS after the cut
SKIP_RATE = 0.25  # traces whose thinking is compressed with [SKIP] and closed (0.05 was too few: module docstring)
SKIP_RATIOS = (0.8, 0.8, 0.5)  # κ of the compressed traces: the method's 0.8 (paper §4), and less
GUESS_SPREAD = 9  # a cut before the answer is written answers the last total ± up to this
CUT_KINDS = ("trigger", "step", "anywhere")
CLOSE_TEXT = "\n</think>\n\n"  # EngineArgs.close_text: what the engine appends when a method cuts
# After a close the model states the value first (see 5. above), then the R1-style box.
ANSWER_SECTION = "{value} {item}.\n\n**Final Answer**\n\\boxed{{{value}}}"


@dataclass(frozen=True)
class ForcedText:
    """Text an engine appends at a cut (no loss on it) and what the model writes after it."""

    text: str
    answer: str  # format with {value} and {item}
    source: str


# Every adapter's forced text, under protocol=default and protocol=paper (a test collects them from
# the adapters themselves: a new method or a changed probe fails until the testbed has learnt it).
FORCED_TEXTS = (
    ForcedText(CLOSE_TEXT, ANSWER_SECTION, "every method's cut (EngineArgs.close_text); DEER's paper close; EAT's probe "
               "(xidulu/EAT compute_entropy_ngram.py), read after a step's \\n\\n or in its place"),
    ForcedText(CLOSE_TEXT + "Final Answer:", " \\boxed{{{value}}}", "s1 budget forcing, protocol=default: close text + answer_prefix"),
    ForcedText("\n</think>\nFinal Answer:", " \\boxed{{{value}}}", "s1, protocol=paper (simplescaling/s1: end of thinking + '\\nFinal Answer:')"),
    ForcedText("\n**Final Answer**\n\\boxed", "{{{value}}}", "DEER's answer probe (iie-ycx/DEER vllm-deer.py)"),
    ForcedText("\n**Final Answer**\n\\boxed{", "{value}}}", "EntroCut's probe (ours: DEER's with the brace)"),
    ForcedText("... Oh, I suddenly got the answer to the whole problem, **Final Answer**\n\n\\[ \\boxed{", "{value}}}\n\\]",
               "Dynasor-CoT's probe (hao-ai-lab/Dynasor dynasor/core/cot.py)"),
)
# How a thinking the model ends itself meets "</think>": R1's "\n", or after a step separator (what
# a thinking closed at a step end looks like, and the path NoWait leaves after "So the answer is N.").
NATURAL_ENDINGS = (("\n", 0.5), ("\n\n", 0.3), ("\n\n\n", 0.2))

# Each form copies the operation's sentence from the problem ("Kim then sells 9") before its
# equation: the adverb names the operation alone, so the copy is a direct look-up. A form that wrote
# the equation first ("Next, 10 - 5 = 5 because Ava sells 5.") made the model recall the next
# amount without the words that point to it, and it copied half of them wrong (build of 2026-11-30).
STEP_FORMS = (
    "{name} {adverb} {phrase}, so {prev} {op} {amount} = {total}.",
    "{name} {adverb} {phrase}: {prev} {op} {amount} = {total}.",
    "{name} {adverb} {phrase}, which gives {prev} {op} {amount} = {total}.",
)
CAUTION_FORM = "Wait, that step {verb} a ten, so let me be careful."
# One opener: a loop's only uncertainty is whether it comes, as the step-entropy premise (arXiv
# 2508.03346: redundant steps are predictable) has it. With three openers the choice among them
# made the loops higher-entropy than the computing steps (0.137 vs 0.116 nats, build c0dbfe3).
# The loop restates the problem word for word: a copy of the prompt, which a model predicts from the
# prompt itself, as the premise needs. A paraphrased recap ("12 apples, first buys 7 more, ...") left
# the start amount and the item to recall, and on one of three seeds its loops scored higher than its
# computing steps (0.082 vs 0.075 nats, build of 2026-12-06).
LOOP_OPENER = "Wait, let me double-check."


@dataclass(frozen=True)
class Trace:
    problem: ArithProblem
    text: str  # from after "<think>\n" to the end of the answer
    loops: int
    cautions: int  # mid-solution "Wait"s (after carrying or borrowing steps)
    cut: str | None = None  # None (the model closed thinking itself), one of CUT_KINDS, or "skip"
    forced: tuple[tuple[int, int], ...] = ()  # character spans of text forced by the engine (no loss)


@dataclass(frozen=True)
class Solution:
    """The thinking's lines and what each is: which start a "Wait", which compute which total.

    The computation (the start, each operation and the cautions between them) is ONE step: its
    lines are joined by `LINE_SEPARATOR`. After the last operation, its caution (if its digits carry)
    and "So the answer is N." are one step, and the loops and the closing statement one each, after
    `STEP_SEPARATOR`. So the step-entropy split finds one informative step and the redundant ones
    (the premise at kappa 0.8, issue 23), every step after the computation states the answer, and
    the separator before a "Wait" says whether the computation is done: a close after "\n" comes
    before the last operation, a close after "\n\n" after it. (With the last caution a step of its
    own, a short step whose only uncertainty is whether it comes, step entropy sometimes kept it and
    pruned the computation: 2 of 60 medium problems lost, seed 0, build of 2026-12-07.)"""

    steps: list[str]  # lines
    waits: list[int]  # indices of the lines a "Wait" starts (cautions and loops)
    operations: list[int]  # index of each operation's line, in order
    answered: int  # index of "So the answer is N."
    loops: int

    def separator(self, index: int) -> str:
        """What comes before line `index` (> 0): "\n" inside the computation and between the last
        operation's caution and "So the answer is N.", else "\n\n"."""
        after_caution = index == self.answered and self.answered - 1 > self.operations[-1]
        return LINE_SEPARATOR if index <= self.operations[-1] or after_caution else STEP_SEPARATOR

    def prefix(self, count: int) -> str:
        """The first `count` lines with the separators between them."""
        text = ""
        for i, line in enumerate(self.steps[:count]):
            text += (self.separator(i) if i else "") + line
        return text

    def thinking(self) -> str:
        return self.prefix(len(self.steps))

    def blocks(self) -> list[list[int]]:
        """The step-entropy steps, as lists of line indices: the computation, the last operation's
        caution (if any) with "So the answer is N.", then one per line."""
        computed, stated = self.operations[-1] + 1, self.answered + 1
        return [list(range(computed)), list(range(computed, stated)), *([i] for i in range(stated, len(self.steps)))]


def recap_phrases(problem: ArithProblem) -> list[str]:
    """Each operation with its adverb, as the problem names it ("then sells 9")."""
    return [f"{adverb} {op.phrase}" for adverb, op in zip(adverbs(len(problem.operations)), problem.operations)]


def sign(op: Operation) -> str:
    return "+" if op.sign > 0 else "-"


def carries(prev: int, op: Operation) -> bool:
    """Whether the units digits carry (addition) or borrow (subtraction)."""
    units, amount = prev % 10, op.amount % 10
    return units + amount >= 10 if op.sign > 0 else units < amount


def solve(problem: ArithProblem, rng: random.Random, reflective: bool = True) -> Solution:
    """The solution's steps; without `reflective`, no caution and no loop."""
    steps, waits, operations, prev = [f"{problem.name} starts with {problem.start} {problem.item}."], [], [], problem.start
    for adverb, op, total in zip(adverbs(len(problem.operations)), problem.operations, problem.totals):
        fields = dict(name=problem.name, adverb=adverb, phrase=op.phrase, prev=prev, op=sign(op), amount=op.amount, total=total)
        operations.append(len(steps))
        steps.append(rng.choice(STEP_FORMS).format(**fields))
        if reflective and carries(prev, op):
            waits.append(len(steps))
            steps.append(CAUTION_FORM.format(verb="carries" if op.sign > 0 else "borrows"))
        prev = total
    answered = len(steps)
    steps.append(f"So the answer is {problem.answer}.")
    if not reflective:  # a closing statement: the path a model with "Wait" banned has after the answer
        steps.append(f"{problem.name} ends with {problem.answer} {problem.item}.")
    loops = rng.choices(range(len(LOOP_COUNT_WEIGHTS)), weights=LOOP_COUNT_WEIGHTS)[0] if reflective else 0
    for _ in range(loops):
        waits.append(len(steps))
        steps.append(f"{LOOP_OPENER} {problem.statement} Yes, the answer is {problem.answer}.")
    return Solution(steps, waits, operations, answered, loops)


def _cut_thinking(solution: Solution, kind: str, rng: random.Random) -> str:
    """The thinking up to where a cut of `kind` lands."""
    steps = solution.steps
    if kind == "trigger":
        at = rng.choice([*solution.waits, len(steps)])
        return solution.prefix(at) + (solution.separator(at) if at < len(steps) else STEP_SEPARATOR)
    if kind == "step":
        at = rng.randint(1, len(steps))
        return solution.prefix(at) + rng.choice(("", solution.separator(at) if at < len(steps) else STEP_SEPARATOR))
    thinking = solution.thinking()
    return thinking[: rng.randint(len(steps[0]), len(thinking))]


def guess(last_total: int, rng: random.Random) -> int:
    """What the model answers before the answer is written: near the last total it saw."""
    return max(0, last_total + rng.randint(-GUESS_SPREAD, GUESS_SPREAD))


def answer_after_cut(problem: ArithProblem, solution: Solution, cut_length: int, rng: random.Random) -> int:
    """What a thinking cut after `cut_length` characters answers: the true answer once the last
    operation's step is written whole, else a guess around the last total written."""
    written = [i for i, index in enumerate(solution.operations) if len(solution.prefix(index + 1)) <= cut_length]
    if len(written) == len(solution.operations):
        return problem.answer
    return guess(problem.totals[written[-1]] if written else problem.start, rng)


def answer_after_skips(problem: ArithProblem, solution: Solution, kept: set[int], rng: random.Random) -> int:
    """What compressed thinking answers: the true answer while a step that states it is kept (the
    last operation, "So the answer is N." or a loop), else a guess around the last total kept."""
    if kept & {solution.operations[-1], *range(solution.answered, len(solution.steps))}:
        return problem.answer
    seen = [i for i, index in enumerate(solution.operations) if index in kept]
    return guess(problem.totals[seen[-1]] if seen else problem.start, rng)


def compress(solution: Solution, rng: random.Random) -> tuple[str, set[int]]:
    """The thinking with ⌊κN⌋ random steps replaced by [SKIP], as cot_methods/signals/steps.py's
    compress_thinking writes it (which steps step entropy prunes is the model's own entropy, so
    every subset is in distribution); returns the text and the lines kept."""
    blocks = solution.blocks()
    n = len(blocks)
    skipped = set(rng.sample(range(n), math.floor(rng.choice(SKIP_RATIOS) * n)))
    text = STEP_SEPARATOR.join(SKIP_TOKEN if b in skipped else LINE_SEPARATOR.join(solution.steps[i] for i in lines)
                               for b, lines in enumerate(blocks))
    return text, {i for b, lines in enumerate(blocks) if b not in skipped for i in lines}


def make_trace(problem: ArithProblem, rng: random.Random, cut_rate: float = CUT_RATE, skip_rate: float = SKIP_RATE) -> Trace:
    solution = solve(problem, rng, reflective=rng.random() >= REFLECTION_FREE_RATE)
    cautions = len(solution.waits) - solution.loops
    draw = rng.random()
    if draw < cut_rate:
        kind = rng.choice(CUT_KINDS)
        thinking = _cut_thinking(solution, kind, rng)
        value = answer_after_cut(problem, solution, len(thinking), rng)
        forced = rng.choice(FORCED_TEXTS)
        answer = forced.answer.format(value=value, item=problem.item)
        span = ((len(thinking), len(thinking) + len(forced.text)),)
        return Trace(problem, thinking + forced.text + answer, solution.loops, cautions, kind, span)
    if draw < cut_rate + skip_rate:
        compressed, kept = compress(solution, rng)
        value = answer_after_skips(problem, solution, kept, rng)
        forced = compressed + CLOSE_TEXT
        text = forced + ANSWER_SECTION.format(value=value, item=problem.item)
        return Trace(problem, text, solution.loops, cautions, "skip", ((0, len(forced)),))
    ending = rng.choices([e for e, _ in NATURAL_ENDINGS], weights=[w for _, w in NATURAL_ENDINGS])[0]
    answer = ANSWER_SECTION.format(value=problem.answer, item=problem.item)
    return Trace(problem, f"{solution.thinking()}{ending}{THINK_END}\n\n{answer}", solution.loops, cautions)
