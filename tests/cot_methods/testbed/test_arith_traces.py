"""The testbed's training traces: R1 format, a number-free "Wait" caution after each carrying step
(before the answer exists), redundant loops that compute nothing after it, reflection-free traces,
and cuts that answer after every method's forced text: the truth once it is written, else a guess."""

import random

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
from cotbench.harness_tasks.arith import Operation, generate_problems
from cotbench.harness_tasks.grading import grade_math, split_reasoning

PROBLEMS = generate_problems("easy", 400, 3) + generate_problems("hard", 200, 3)


def thinking_steps(trace) -> list[str]:
    return trace.text.split(THINK_END)[0].strip().split("\n\n")


def full_traces(seed: int):
    rng = random.Random(seed)
    return [make_trace(problem, rng, cut_rate=0.0, skip_rate=0.0) for problem in PROBLEMS]


def test_every_full_trace_is_graded_correct_and_states_the_value_first_after_thinking():
    for trace in full_traces(0):
        problem = trace.problem
        thinking, answer, closed = split_reasoning(trace.text, THINK_END)
        assert closed and answer.strip() == f"{problem.answer} {problem.item}.\n\n**Final Answer**\n\\boxed{{{problem.answer}}}"
        assert grade_math(trace.text, str(problem.answer)).correct
        steps = thinking.strip().split("\n\n")
        assert steps[0] == f"{problem.name} starts with {problem.start} {problem.item}."
        assert sum(step.startswith(LOOP_OPENER) for step in steps) == trace.loops
        assert not trace.forced and trace.cut is None


def test_carry_and_borrow():
    assert carries(17, Operation(1, 5, "")) and not carries(12, Operation(1, 5, ""))
    assert carries(31, Operation(-1, 5, "")) and not carries(36, Operation(-1, 5, ""))


def test_a_caution_follows_each_carrying_step_in_reflective_traces_and_comes_before_the_answer():
    reflective = 0
    for trace in full_traces(1):
        problem, steps = trace.problem, thinking_steps(trace)
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
        steps = thinking_steps(make_trace(problem, rng, 0.0, 0.0))
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
        loops = [s for s in thinking_steps(trace) if s.startswith(LOOP_OPENER)]
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
        if any(last in step and step.endswith(".") for step in trace.text[:start].split("\n\n")):  # last step written whole
            assert verdict, trace.text[start:]
        elif f"= {trace.problem.answer}" not in trace.text[:start]:
            guesses.append(verdict)
    assert seen == {f.text for f in FORCED_TEXTS}
    assert len(guesses) > 50 and sum(guesses) < len(guesses) / 3  # a cut before the answer mostly costs it
    at_trigger = [t for t in cut if t.cut == "trigger"]  # where a "Wait" would come: after a whole step
    assert all(t.text[: t.forced[0][0]].endswith(".\n\n") for t in at_trigger)


def test_compressed_thinking_is_what_step_entropy_writes():
    """Post-hoc step entropy (cot_methods/methods/stepentropy.py) feeds compress_thinking's text, then the close text."""
    rng = random.Random(6)
    for problem in PROBLEMS[:100]:
        solution = solve(problem, rng)
        text, kept = compress(solution, rng)
        whole = solution.thinking()
        skipped = set(range(len(solution.steps))) - kept
        assert text == compress_thinking(whole, split_steps(whole), skipped)
        assert len(skipped) in (int(0.8 * len(solution.steps)), int(0.5 * len(solution.steps)))


def test_compressed_traces_answer_the_truth_only_while_a_step_that_states_it_is_kept():
    rng = random.Random(7)
    kept_answer, lost = 0, []
    for trace in (make_trace(p, rng, cut_rate=0.0, skip_rate=1.0) for p in PROBLEMS):
        [(start, end)] = trace.forced
        assert start == 0 and trace.cut == "skip" and trace.text[:end].endswith(CLOSE_TEXT) and SKIP_TOKEN in trace.text
        thinking = trace.text[: end - len(CLOSE_TEXT)]
        verdict = grade_math(trace.text[end:], str(trace.problem.answer), think_end=None).correct
        last = trace.problem.operations[-1]
        states = [s for s in thinking.split("\n\n") if f"answer is {trace.problem.answer}." in s
                  or (f"finally {last.phrase}" in s and s.endswith(f" {last.amount} = {trace.problem.answer}."))]
        if states:
            kept_answer += 1
            assert verdict
        else:
            lost.append(verdict)
    assert kept_answer > 100 and len(lost) > 50 and sum(lost) < len(lost) / 3


def test_answer_after_cut():
    problem = generate_problems("easy", 1, 0)[0]
    solution = solve(problem, random.Random(0), reflective=False)
    [first, second] = solution.operations
    upto = lambda i: len("\n\n".join(solution.steps[: i + 1]))  # noqa: E731
    assert answer_after_cut(problem, solution, upto(second), random.Random(0)) == problem.answer
    early = {answer_after_cut(problem, solution, len(solution.steps[0]), random.Random(i)) for i in range(50)}
    assert len(early) > 5 and all(abs(value - problem.start) <= GUESS_SPREAD or value == 0 for value in early)
    middle = {answer_after_cut(problem, solution, upto(first), random.Random(i)) for i in range(50)}
    assert all(abs(value - problem.totals[0]) <= GUESS_SPREAD or value == 0 for value in middle)
