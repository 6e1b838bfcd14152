"""The testbed's training traces: a glance with no result, "Wait" and an exact verification,
redundant loops that repeat the result, and cuts whose forced text carries no loss."""

import random
from collections import Counter

from cotbench.cot_methods.training.arith_traces import (
    CLOSE_TEXT,
    CUT_KINDS,
    FIRST_WAITS,
    LOOP_OPENERS,
    PROBE_TEXT,
    THINK_END,
    answer_reached,
    make_trace,
)
from cotbench.harness_tasks.arith import generate_problems
from cotbench.harness_tasks.grading import grade_math, split_reasoning

PROBLEMS = generate_problems("easy", 400, 3) + generate_problems("hard", 200, 3)


def steps_of(trace):
    return trace.text.split(THINK_END)[0].strip().split("\n\n")


def test_every_trace_is_graded_correct_and_well_formed():
    rng = random.Random(0)
    for problem in PROBLEMS:
        trace = make_trace(problem, rng, truncate_rate=0.0)
        thinking, answer, closed = split_reasoning(trace.text, THINK_END)
        assert closed and answer.strip() == f"**Final Answer**\n\\boxed{{{problem.answer}}}"
        assert grade_math(trace.text, str(problem.answer)).correct
        steps = steps_of(trace)
        assert steps[1] in FIRST_WAITS
        assert sum(step.startswith(LOOP_OPENERS) for step in steps) == trace.loops
        assert not trace.forced and trace.cut is None


def test_the_glance_states_the_problem_but_no_result():
    """Cut at the first "Wait", the answer must be computed in one shot: nothing to copy."""
    rng = random.Random(1)
    for problem in PROBLEMS:
        glance = steps_of(make_trace(problem, rng, truncate_rate=0.0))[0]
        assert str(problem.start) in glance and "=" not in glance and "answer" not in glance
        assert answer_reached(glance + "\n\n", one_shot=-1) == -1


def test_the_verification_is_exact_and_the_loops_repeat_its_result():
    rng = random.Random(2)
    for problem in PROBLEMS:
        steps = steps_of(make_trace(problem, rng, truncate_rate=0.0))
        prev = problem.start
        for op, total, step in zip(problem.operations, problem.totals, steps[2:]):
            assert f"{prev} {'+' if op.sign > 0 else '-'} {op.amount} = {total}" in step
            prev = total
        assert steps[2 + len(problem.operations)] == f"So the answer is {problem.answer}."
        for loop in steps[3 + len(problem.operations):]:
            assert loop.startswith(LOOP_OPENERS) and loop.endswith(f"Yes, the answer is {problem.answer}.")


def test_loop_counts_vary():
    rng = random.Random(3)
    counts = {make_trace(p, rng).loops for p in PROBLEMS}
    assert counts == {0, 1, 2, 3, 4}


def test_cuts_answer_from_where_the_thought_stands_and_force_no_trained_text():
    rng = random.Random(4)
    truncated = [t for t in (make_trace(p, rng, truncate_rate=1.0) for p in PROBLEMS)]
    assert Counter(t.cut for t in truncated).keys() == set(CUT_KINDS)
    for trace in truncated:
        [(start, end)] = trace.forced
        forced = trace.text[start:end]
        assert forced in (CLOSE_TEXT, PROBE_TEXT)
        thinking, answer = trace.text[:start], trace.text[end:]
        expected = answer_reached(thinking, trace.problem.answer)
        assert answer in (f"**Final Answer**\n\\boxed{{{expected}}}", f"{{{expected}}}")
        if trace.cut == "glance":  # nothing computed: the one-shot target is the true answer
            assert expected == trace.problem.answer and thinking.endswith("\n\n") and "=" not in thinking
        if trace.cut == "step":  # at a step boundary, where a "Wait" would come
            assert thinking.endswith(".\n\n") and expected == trace.problem.answer
    mid = [t for t in truncated if t.cut == "anywhere" and answer_reached(t.text[: t.forced[0][0]], -1) not in (-1, t.problem.answer)]
    assert mid  # a budget cut mid-verification answers with a running total: early cuts cost accuracy
    assert answer_reached("A has 4; the changes are +3, +2.\n\nWait, let me work it out.\n\nA gets 3 more: 4 + 3 = 7.\n\nA gets 2 more: 7 + 2 = ", 9) == 7
    assert answer_reached("Next, 4 + 3 = 7 because A gets 3.\n\nA gets 2", 9) == 7
    assert answer_reached("So the answer is 9.\n\nWait, let me check again. 4 + 3 = 7, 7 + 2 = 9. Yes, the answer is 9.", 0) == 9
    assert answer_reached("A gets 3 more: 4 + 3 = 1", 9) == 9  # an incomplete number is no result


def test_the_loss_mask_skips_exactly_the_forced_text():
    """Training never teaches the model to emit the close text or the probe, only to answer after them."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from cotbench.cot_methods.training.testbed import CHAT_TEMPLATE, END_OF_TURN, _encode_example

    characters = sorted({chr(i) for i in range(32, 127)} | {"\n"})
    vocabulary = {c: i for i, c in enumerate(characters)}
    backend = Tokenizer(models.WordLevel(vocabulary, unk_token=" "))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("[\\s\\S]"), behavior="isolated")  # one token per character
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, chat_template=CHAT_TEMPLATE)
    rng = random.Random(5)
    for trace in (make_trace(p, rng, truncate_rate=1.0) for p in PROBLEMS[:50]):
        [(start, end)] = trace.forced
        ids, trained = _encode_example(tokenizer, "q", trace.text, trace.forced)
        completion = trace.text + END_OF_TURN
        assert ids[-len(completion):] == [vocabulary[c] for c in completion]
        assert trained[-len(completion):] == [not start <= c < end for c in range(len(completion))]
        assert not any(trained[: -len(completion)])  # the prompt carries no loss either
