"""The testbed's training traces: R1 format, a number-free "Wait" caution after each carrying step
(before the answer exists), redundant loops that compute nothing after it, reflection-free traces,
the computation as one "\n\n" step and each restatement as another, and cuts that answer after every
method's forced text: the truth once it is written, else a guess."""

import random
import re

from cotbench.cot_methods.signals.steps import compress_thinking, split_steps
from cotbench.cot_methods.testbed.arith_traces import (
    CLOSE_TEXT,
    FORCED_TEXTS,
    GUESS_SPREAD,
    LOOP_OPENER,
    SKIP_TOKEN,
    THINK_END,
    answer_after_cut,
    carries,
    compress,
    make_trace,
    solve,
)
from cotbench.harness_tasks.arith import FINAL_ADVERB, Operation, generate_problems
from cotbench.harness_tasks.grading import grade_math, split_reasoning

PROBLEMS = generate_problems("easy", 400, 3) + generate_problems("hard", 200, 3)


def thinking_lines(trace) -> list[str]:
    return re.split(r"\n+", trace.text.split(THINK_END)[0].strip())


def step_texts(thinking: str) -> list[str]:
    return [step.text(thinking) for step in split_steps(thinking)]


def full_traces(seed: int):
    rng = random.Random(seed)
    return [make_trace(problem, rng, cut_rate=0.0, skip_rate=0.0) for problem in PROBLEMS]


def test_every_full_trace_is_graded_correct_and_states_the_value_first_after_thinking():
    for trace in full_traces(0):
        problem = trace.problem
        thinking, answer, closed = split_reasoning(trace.text, THINK_END)
        assert closed and answer.strip() == f"{problem.answer} {problem.item}.\n\n**Final Answer**\n\\boxed{{{problem.answer}}}"
        assert grade_math(trace.text, str(problem.answer)).correct
        steps = step_texts(thinking.strip())
        assert steps[0].startswith(f"{problem.name} starts with {problem.start} {problem.item}.\n")
        assert sum(step.startswith(LOOP_OPENER) for step in steps) == trace.loops
        assert not trace.forced and trace.cut is None


def test_the_computation_is_one_step_and_each_restatement_another():
    """Step entropy's premise at κ 0.8 (arXiv 2508.03346): the kept 20 % of steps can hold the whole
    computation only if it is one step; the restatements after it are the redundant steps."""
    for trace in full_traces(8):
        problem = trace.problem
        steps = step_texts(trace.text.split(THINK_END)[0].strip())
        computation, rest = steps[0], steps[1:]
        assert computation.endswith(f" {problem.operations[-1].amount} = {problem.answer}.")
        assert all(f"= {total}." in computation for total in problem.totals)
        assert not any("=" in step for step in rest) and rest[0].endswith(f"So the answer is {problem.answer}.")
        assert all(str(problem.answer) in step for step in rest)  # a step kept after the computation states the answer


def test_the_separator_before_a_caution_says_whether_the_computation_is_done():
    """A "Wait" after "\n" comes with operations still to go (a close there must guess); after "\n\n",
    every operation is written (a close there answers): a cut's text says which, as a real
    model's paragraphing does."""
    mid = done = 0
    for trace in full_traces(9):
        thinking = trace.text.split(THINK_END)[0]
        last = f"{FINAL_ADVERB} {trace.problem.operations[-1].phrase}"
        for match in re.finditer(r"(\n+)Wait, that step", thinking):
            written = last in thinking[: match.start()]
            assert written == (match.group(1) == "\n\n"), thinking
            mid, done = mid + (not written), done + written
    assert mid > 50 and done > 50


def test_carry_and_borrow():
    assert carries(17, Operation(1, 5, "")) and not carries(12, Operation(1, 5, ""))
    assert carries(31, Operation(-1, 5, "")) and not carries(36, Operation(-1, 5, ""))


def test_a_caution_follows_each_carrying_step_in_reflective_traces_and_comes_before_the_answer():
    reflective = 0
    for trace in full_traces(1):
        problem, steps = trace.problem, thinking_lines(trace)
        answer_at = steps.index(f"So the answer is {problem.answer}.")
        cautions = [i for i, step in enumerate(steps) if step.startswith("Wait, that step")]
        prevs = [problem.start, *problem.totals[:-1]]
        expected = sum(carries(prev, op) for prev, op in zip(prevs, problem.operations))
        assert len(cautions) == trace.cautions and trace.cautions in (0, expected)
        assert all(i < answer_at and not any(c.isdigit() for c in steps[i]) for i in cautions)
        reflective += trace.cautions == expected and expected > 0
    assert reflective > len(PROBLEMS) // 2
    # on medium most traces say "Wait" mid-solution, with operations still to go: a cut there must guess
    rng, mid_solution = random.Random(2), 0
    for problem in generate_problems("medium", 200, 4):
        steps = thinking_lines(make_trace(problem, rng, 0.0, 0.0))
        mid_solution += any(s.startswith("Wait, that") and not steps[i + 1].startswith("So the answer") for i, s in enumerate(steps))
    assert mid_solution > 110


def test_some_traces_think_without_any_reflection_word_for_nowait():
    """NoWait bans these words (arXiv 2506.08343); a model with them banned needs a path it learnt."""
    banned = ("wait", "check", "hmm", "but", "however", "again", "verify", "maybe")
    free = [t for t in full_traces(5) if not any(word in t.text.split(THINK_END)[0].lower() for word in banned)]
    assert len(PROBLEMS) * 0.08 < len(free) < len(PROBLEMS) * 0.25
    assert all(grade_math(t.text, str(t.problem.answer)).correct for t in free)


def test_loops_restate_the_problem_and_the_answer_and_counts_vary():
    traces = full_traces(3)
    assert {t.loops for t in traces} == {0, 1, 2, 3, 4}
    for trace in traces:
        loops = [s for s in thinking_lines(trace) if s.startswith(LOOP_OPENER)]
        assert all(loop.startswith(f"{LOOP_OPENER} {trace.problem.statement} Yes, the answer is ") for loop in loops)
        assert all(loop.endswith(f". Yes, the answer is {trace.problem.answer}.") and "=" not in loop for loop in loops)


def test_cuts_answer_after_every_forced_text_the_truth_once_written_else_a_guess():
    rng = random.Random(4)
    cut = [t for t in (make_trace(p, rng, cut_rate=0.8, skip_rate=0.0) for p in PROBLEMS) if t.cut]
    assert {t.cut for t in cut} == {"trigger", "step", "anywhere"}
    seen, guesses = set(), []
    for trace in cut:
        [(start, end)] = trace.forced
        forced = trace.text[start:end]
        assert forced in {f.text for f in FORCED_TEXTS} and THINK_END not in trace.text[:start]
        seen.add(forced)
        verdict = grade_math(trace.text[start:], str(trace.problem.answer), think_end=None).correct
        last = f" {trace.problem.operations[-1].amount} = {trace.problem.answer}"
        if any(last in line and line.endswith(".") for line in re.split(r"\n+", trace.text[:start])):  # last line written whole
            assert verdict, trace.text[start:]
        elif f"= {trace.problem.answer}" not in trace.text[:start]:
            guesses.append(verdict)
    assert seen == {f.text for f in FORCED_TEXTS}
    assert len(guesses) > 50 and sum(guesses) < len(guesses) / 3  # a cut before the answer mostly costs it
    at_trigger = [t for t in cut if t.cut == "trigger"]  # where a "Wait" would come: after a whole line
    assert all(re.search(r"\.\n\n?$", t.text[: t.forced[0][0]]) for t in at_trigger)
    # and after "\n\n" the computation is done: such a cut answers the truth
    assert all(grade_math(t.text[t.forced[0][0]:], str(t.problem.answer), think_end=None).correct
               for t in at_trigger if t.text[: t.forced[0][0]].endswith("\n\n"))


def test_compressed_thinking_is_what_step_entropy_writes():
    """Post-hoc step entropy (cot_methods/methods/stepentropy.py) feeds compress_thinking's text, then the close text."""
    rng = random.Random(6)
    for problem in PROBLEMS[:100]:
        solution = solve(problem, rng)
        text, kept = compress(solution, rng)
        whole = solution.thinking()
        blocks = solution.blocks()
        assert step_texts(whole) == ["\n".join(solution.steps[i] for i in lines) for lines in blocks]
        skipped = {b for b, lines in enumerate(blocks) if not set(lines) <= kept}
        assert text == compress_thinking(whole, split_steps(whole), skipped)
        assert len(skipped) in (int(0.8 * len(blocks)), int(0.5 * len(blocks)))


def test_every_step_states_the_answer_so_a_compressed_trace_answers_the_truth():
    """The computation ends with the answer and every step after it states it, so whatever ⌊κN⌋ steps
    step entropy prunes, a kept step holds the answer and the trace answers it: the premise at κ 0.8 as
    this testbed carries it (the redundant steps are restatements; arXiv 2508.03346)."""
    rng = random.Random(7)
    for trace in (make_trace(p, rng, cut_rate=0.0, skip_rate=1.0) for p in PROBLEMS):
        [(start, end)] = trace.forced
        assert start == 0 and trace.cut == "skip" and trace.text[:end].endswith(CLOSE_TEXT) and SKIP_TOKEN in trace.text
        thinking = trace.text[: end - len(CLOSE_TEXT)]
        kept = [s for s in thinking.split("\n\n") if s != SKIP_TOKEN]
        answer = str(trace.problem.answer)
        assert kept and all(re.search(rf"(= |is |with ){answer}\b", s) for s in kept), thinking
        assert grade_math(trace.text[end:], answer, think_end=None).correct


def test_answer_after_cut():
    problem = generate_problems("easy", 1, 0)[0]
    solution = solve(problem, random.Random(0), reflective=False)
    [first, second] = solution.operations
    upto = lambda i: len(solution.prefix(i + 1))  # noqa: E731
    assert answer_after_cut(problem, solution, upto(second), random.Random(0)) == problem.answer
    early = {answer_after_cut(problem, solution, len(solution.steps[0]), random.Random(i)) for i in range(50)}
    assert len(early) > 5 and all(abs(value - problem.start) <= GUESS_SPREAD or value == 0 for value in early)
    middle = {answer_after_cut(problem, solution, upto(first), random.Random(i)) for i in range(50)}
    assert all(abs(value - problem.totals[0]) <= GUESS_SPREAD or value == 0 for value in middle)
