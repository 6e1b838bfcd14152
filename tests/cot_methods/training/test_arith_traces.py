"""The testbed's training traces: R1 format, slips that a later "Wait" corrects, redundant loops."""

import random

from cotbench.cot_methods.training.arith_traces import CLOSE_TEXT, LOOP_OPENERS, THINK_END, answer_reached, first_step_carries, make_trace
from cotbench.harness_tasks.arith import generate_problems
from cotbench.harness_tasks.grading import grade_math, split_reasoning

PROBLEMS = generate_problems("easy", 400, 3) + generate_problems("hard", 200, 3)


def test_every_trace_is_graded_correct_and_well_formed():
    rng = random.Random(0)
    for problem in PROBLEMS:
        trace = make_trace(problem, rng, truncate_rate=0.0)
        thinking, answer, closed = split_reasoning(trace.text, THINK_END)
        assert closed and answer.strip() == f"**Final Answer**\n\\boxed{{{problem.answer}}}"
        assert grade_math(trace.text, str(problem.answer)).correct
        steps = thinking.strip().split("\n\n")
        assert steps[0] == f"{problem.name} starts with {problem.start} {problem.item}."
        assert sum(step.startswith(LOOP_OPENERS) for step in steps) == trace.loops


def test_slips_only_on_carries_and_are_corrected_after_a_wait():
    rng = random.Random(1)
    traces = [make_trace(p, rng, slip_rate=1.0, truncate_rate=0.0) for p in PROBLEMS]
    slipped = [t for t in traces if t.slipped]
    assert slipped and all(first_step_carries(t.problem) for t in slipped)
    for trace in slipped:
        steps = trace.text.split(THINK_END)[0].strip().split("\n\n")
        wrong_answer = trace.problem.answer - 10
        assert f"So the answer is {wrong_answer}." in steps
        correction = steps[steps.index(f"So the answer is {wrong_answer}.") + 1]
        assert correction.startswith("Wait,") and f"not {trace.problem.totals[0] - 10}" in correction
    no_slip = [make_trace(p, random.Random(2), slip_rate=0.0) for p in PROBLEMS]
    assert not any(t.slipped for t in no_slip)


def test_loop_counts_vary():
    rng = random.Random(3)
    counts = {make_trace(p, rng).loops for p in PROBLEMS}
    assert counts == {0, 1, 2, 3, 4}


def test_truncated_traces_answer_from_where_the_thought_stands():
    rng = random.Random(4)
    truncated = [t for t in (make_trace(p, rng, truncate_rate=0.5) for p in PROBLEMS) if t.truncated]
    assert len(truncated) > len(PROBLEMS) // 4
    for trace in truncated:
        thinking, answer = trace.text.split(CLOSE_TEXT)
        assert answer == f"**Final Answer**\n\\boxed{{{answer_reached(thinking, trace.problem.start)}}}"
    assert any(not grade_math(t.text, str(t.problem.answer)).correct for t in truncated)  # early cuts cost accuracy
    assert answer_reached("A starts with 4.\n\nA gets 3 more: 4 + 3 = 7.\n\nSo the answer is 7.\n\nWait, 4 + 3 = 7, 7 + 1", 4) == 7
    assert answer_reached("A starts with 4.\n\nA gets 3 more: 4 + 3 = 7.\n\nA gets 2 more: 7 + 2 = 9", 4) == 7
    assert answer_reached("A starts with 4.\n\nA gets", 4) == 4
