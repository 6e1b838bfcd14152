"""cot_arith: deterministic problems with exact answers, loadable as lm-eval tasks."""

import pytest

from cotbench.errors import CotbenchError
from cotbench.harness_tasks.arith import LEVELS, TEST_SIZE, evaluation_problems, generate_problems, load_arith_dataset
from cotbench.harness_tasks.grading import grade_math


def test_same_seed_same_problems_other_seed_other_problems():
    assert generate_problems("medium", 20, 7) == generate_problems("medium", 20, 7)
    assert [p.text for p in generate_problems("medium", 20, 7)] != [p.text for p in generate_problems("medium", 20, 8)]


@pytest.mark.parametrize("level", list(LEVELS))
def test_answers_follow_the_text(level):
    spec = LEVELS[level]
    for problem in evaluation_problems(level):
        assert len(problem.operations) == spec.steps
        total = problem.start
        for op in problem.operations:
            assert str(op.amount) in op.phrase and spec.operand[0] <= op.amount <= spec.operand[1]
            total += op.amount if op.phrase.endswith("more") else -op.amount
            assert total >= 0
        assert total == problem.answer
        assert problem.text.startswith(f"{problem.name} has {problem.start} {problem.item}.")


@pytest.mark.parametrize("level", list(LEVELS))
def test_each_operation_is_named_by_a_word_of_its_own(level):
    """No verb twice in a problem, and one adverb per operation, "finally" for the last: the word
    that finds an operation in the text finds that one alone."""
    for problem in evaluation_problems(level):
        verbs = [op.phrase.split()[0] for op in problem.operations]
        assert len(set(verbs)) == len(verbs)
        sentences = problem.text.split(". ")[1:-1]
        assert [s.split()[1] for s in sentences][-1] == "finally" and len({s.split()[1] for s in sentences}) == len(sentences)


def test_levels_grow_harder():
    mean_answer = {level: sum(p.answer for p in evaluation_problems(level)) / TEST_SIZE for level in LEVELS}
    assert mean_answer["easy"] < mean_answer["medium"] < mean_answer["hard"]


def test_test_split_is_a_dataset_graded_like_math():
    split = load_arith_dataset("easy")["test"]
    assert len(split) == TEST_SIZE and set(split.column_names) >= {"id", "problem", "answer"}
    row = split[0]
    assert grade_math(f"\\boxed{{{row['answer']}}}", row["answer"]).correct


def test_bad_level_and_count_are_one_line_errors():
    with pytest.raises(CotbenchError, match="unknown cot_arith level 'expert'"):
        generate_problems("expert", 3, 0)
    with pytest.raises(CotbenchError, match="count=0"):
        generate_problems("easy", 0, 0)


def test_tasks_are_registered_with_lm_eval():
    from lm_eval.tasks import TaskManager

    from cotbench.harness_tasks import TASKS_DIR

    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    assert {"cot_arith", "cot_arith_easy", "cot_arith_medium", "cot_arith_hard"} <= set(manager.all_tasks)
    tasks = manager.load_task_or_group(["cot_arith_easy"])
    task = tasks["cot_arith_easy"]
    assert task.config.generation_kwargs["max_gen_toks"] == 1024
    assert len(task.eval_docs) == TEST_SIZE
