"""The testbed's training traces: R1 format, a number-free "Wait" caution after each carrying step
(before the answer exists), redundant loops that compute nothing after it, and cuts that answer
after the engine's forced text: the truth once it is written, else a guess."""

import random

from cotbench.cot_methods.training.arith_traces import (
    CLOSE_TEXT,
    GUESS_SPREAD,
    LOOP_OPENER,
    PROBE_TEXTS,
    THINK_END,
    answer_after_cut,
    carries,
    make_trace,
)
from cotbench.harness_tasks.arith import Operation, generate_problems
from cotbench.harness_tasks.grading import grade_math, split_reasoning

PROBLEMS = generate_problems("easy", 400, 3) + generate_problems("hard", 200, 3)


def thinking_steps(trace) -> list[str]:
    return trace.text.split(THINK_END)[0].strip().split("\n\n")


def test_every_trace_is_graded_correct_and_well_formed():
    rng = random.Random(0)
    for problem in PROBLEMS:
        trace = make_trace(problem, rng, truncate_rate=0.0)
        thinking, answer, closed = split_reasoning(trace.text, THINK_END)
        assert closed and answer.strip() == f"**Final Answer**\n\\boxed{{{problem.answer}}}"
        assert grade_math(trace.text, str(problem.answer)).correct
        steps = thinking.strip().split("\n\n")
        assert steps[0] == f"{problem.name} starts with {problem.start} {problem.item}."
        assert sum(step.startswith(LOOP_OPENER) for step in steps) == trace.loops
        assert not trace.forced and trace.cut is None


def test_carry_and_borrow():
    assert carries(17, Operation(1, 5, "")) and not carries(12, Operation(1, 5, ""))
    assert carries(31, Operation(-1, 5, "")) and not carries(36, Operation(-1, 5, ""))


def test_a_caution_follows_each_carrying_step_and_comes_before_the_answer():
    rng = random.Random(1)
    for problem in PROBLEMS:
        trace = make_trace(problem, rng, truncate_rate=0.0)
        steps = thinking_steps(trace)
        answer_at = steps.index(f"So the answer is {problem.answer}.")
        cautions = [i for i, step in enumerate(steps) if step.startswith("Wait, that step")]
        prevs = [problem.start, *problem.totals[:-1]]
        expected = sum(carries(prev, op) for prev, op in zip(prevs, problem.operations))
        assert len(cautions) == trace.cautions == expected
        assert all(i < answer_at and not any(c.isdigit() for c in steps[i]) for i in cautions)
    # on medium most traces say "Wait" mid-solution, with operations still to go: a cut there must guess
    mid_solution = 0
    for problem in generate_problems("medium", 200, 4):
        steps = thinking_steps(make_trace(problem, rng, 0.0))
        mid_solution += any(s.startswith("Wait, that") and not steps[i + 1].startswith("So the answer") for i, s in enumerate(steps))
    assert mid_solution > 120


def test_loops_restate_the_problem_and_the_answer_and_counts_vary():
    rng = random.Random(3)
    traces = [make_trace(p, rng, truncate_rate=0.0) for p in PROBLEMS]
    assert {t.loops for t in traces} == {0, 1, 2, 3, 4}
    for trace in traces:
        loops = [s for s in thinking_steps(trace) if s.startswith(LOOP_OPENER)]
        phrases = ", ".join(op.phrase for op in trace.problem.operations[:-1])
        assert all(f"{trace.problem.start} {trace.problem.item}, then {phrases} and " in loop for loop in loops)
        assert all(loop.endswith(f". Yes, the answer is {trace.problem.answer}.") and "=" not in loop for loop in loops)


def test_cuts_answer_after_untrained_forced_text_the_truth_once_written_else_a_guess():
    rng = random.Random(4)
    cut = [t for t in (make_trace(p, rng, truncate_rate=0.5) for p in PROBLEMS) if t.cut]
    assert len(cut) > len(PROBLEMS) // 4 and {t.cut for t in cut} == {"trigger", "anywhere"}
    guesses = []
    for trace in cut:
        [(start, end)] = trace.forced
        forced = trace.text[start:end]
        assert forced in (CLOSE_TEXT, *PROBE_TEXTS) and THINK_END not in trace.text[:start]
        answer = trace.text[end:] if forced == CLOSE_TEXT else "\\boxed{" + trace.text[end:].removeprefix("{")
        last = f" {trace.problem.operations[-1].amount} = {trace.problem.answer}"
        if any(last in step and step.endswith(".") for step in trace.text[:start].split("\n\n")):  # last step written whole
            assert grade_math(answer, str(trace.problem.answer)).correct
        elif f"= {trace.problem.answer}" not in trace.text[:start]:
            guesses.append(grade_math(answer, str(trace.problem.answer)).correct)
    assert len(guesses) > 50 and sum(guesses) < len(guesses) / 3  # a cut before the answer mostly costs it
    at_trigger = [t for t in cut if t.cut == "trigger"]  # where a "Wait" would come: after a whole step
    assert all(t.text[: t.forced[0][0]].endswith(".\n\n") for t in at_trigger)


def test_answer_after_cut():
    steps = ["A starts with 4.", "A gets 3 more: 4 + 3 = 7.", "A gets 2 more: 7 + 2 = 9.", "So the answer is 9."]
    problem = generate_problems("easy", 1, 0)[0]  # its numbers are not the steps'; only positions matter
    assert answer_after_cut(problem, steps, [1, 2], len("\n\n".join(steps)), random.Random(0)) == problem.answer
    assert answer_after_cut(problem, steps, [1, 2], len("\n\n".join(steps[:3])), random.Random(0)) == problem.answer
    early = {answer_after_cut(problem, steps, [1, 2], len(steps[0]), random.Random(i)) for i in range(50)}
    assert len(early) > 5 and all(abs(value - problem.start) <= GUESS_SPREAD or value == 0 for value in early)
    middle = {answer_after_cut(problem, steps, [1, 2], len("\n\n".join(steps[:2])), random.Random(i)) for i in range(50)}
    assert all(abs(value - problem.totals[0]) <= GUESS_SPREAD or value == 0 for value in middle)
