"""The recipes' training split: never a test problem, the same on every machine, every level."""

import pytest

from cotbench.cot_methods.training.arith_split import training_problems
from cotbench.errors import CotbenchError
from cotbench.harness_tasks.arith import LEVELS, evaluation_problems


def test_training_problems_are_never_test_problems_and_cover_every_level():
    problems = training_problems(("easy", "medium", "hard"), 150, seed=3)
    test_texts = {p.text for level in LEVELS for p in evaluation_problems(level)}
    assert len(problems) == 450 and not test_texts & {p.text for p in problems}
    assert {p.level for p in problems[:12]} == {"easy", "medium", "hard"}  # interleaved: the first few see every level


def test_the_split_is_a_function_of_its_seed():
    assert training_problems(("easy",), 20, seed=1) == training_problems(("easy",), 20, seed=1)
    assert training_problems(("easy",), 20, seed=1) != training_problems(("easy",), 20, seed=2)


@pytest.mark.parametrize("levels,count,named", [(("easy", "tricky"), 5, "'tricky'"), ((), 5, "[]"), (("easy",), 0, "0")])
def test_bad_split_is_one_line(levels, count, named):
    with pytest.raises(CotbenchError) as error:
        training_problems(levels, count)
    assert named in str(error.value) and "\n" not in str(error.value)
