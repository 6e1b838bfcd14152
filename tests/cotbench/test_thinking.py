"""One split of thinking from answer: the grader, the [SKIP] counter, the GRPO reward and the SFT
builder read a text that closes thinking twice the same way (at the last marker)."""

import pytest

from cotbench.cot_methods.methods.skip import SkipLM
from cotbench.cot_methods.signals.steps import SKIP_TOKEN
from cotbench.cot_methods.training.rewards import make_step_entropy_reward
from cotbench.cot_methods.training.sft_data import compress_trace
from cotbench.harness_tasks.grading import grade_math, split_reasoning
from cotbench.record import GenerationRecord
from cotbench.thinking import split_thinking, thinking_part

# A model that writes "</think>" while still thinking, then closes for real. Four [SKIP]s follow
# the first marker: the skip ratio is 4 / (1 + 4) = 0.8 read up to the last marker, 0 up to the first.
TWICE = "Add 3 and 4.\n\nI typed </think> too soon; go on.[SKIP][SKIP][SKIP][SKIP]</think>So \\boxed{7}."
THINKING, ANSWER = "Add 3 and 4.\n\nI typed </think> too soon; go on.[SKIP][SKIP][SKIP][SKIP]", "So \\boxed{7}."


def test_split_at_the_last_marker():
    assert split_thinking(TWICE) == (THINKING, ANSWER, True)
    assert split_thinking("a[END]b[END]c", "[END]") == ("a[END]b", "c", True)
    assert split_thinking("no marker") == ("", "no marker", False)  # the whole text can still be graded
    assert split_thinking("a</think>b", None) == ("", "a</think>b", False)
    assert thinking_part("cut by the length limit") == "cut by the length limit"  # never closed: still thinking
    assert thinking_part(TWICE) == THINKING


def test_grader_skip_counter_reward_and_sft_builder_agree(smollm2_path, smollm2):
    # The grader: thinking before the last marker, the answer after it.
    assert split_reasoning(TWICE) == (THINKING, ANSWER, True)
    assert grade_math(TWICE, "7").correct

    # The [SKIP] counter of `cotbench-skip` records counts over the grader's thinking.
    lm = SkipLM(pretrained="smollm2-135m", device="cpu")
    record = GenerationRecord()
    lm.annotate(record, None, None, TWICE)
    assert record.method_fields["skip_steps"] == THINKING.count(SKIP_TOKEN) == 4
    assert record.method_fields["skip_ratio"] == pytest.approx(0.8)

    # The GRPO reward: correct (+2) and skip ratio 0.8 (+1), both read on the grader's split.
    assert make_step_entropy_reward()(completions=[TWICE], completion_ids=[[0] * 10], answer=["7"]) == [3.0]

    # The SFT builder compresses the grader's thinking and keeps the grader's answer: with every
    # step pruned, nothing of the thinking is left outside [SKIP]s.
    model, tok = smollm2
    example = compress_trace(model, tok, "What is 3 + 4?", TWICE, skip_ratio=1.0, answer="copy")
    thinking, answer, closed = split_reasoning(example["completion"])
    assert closed and answer == ANSWER
    assert thinking.split("\n\n") == [SKIP_TOKEN] * len(THINKING.split("\n\n"))
