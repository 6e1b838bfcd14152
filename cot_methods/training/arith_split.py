"""The training split of `cot_arith`: problems the training recipes learn from, never the test
problems the harness scores them on (`harness_tasks/arith.py`'s `TEST_SEED` split, every level).

Why a split of its own: a recipe that trained on the test problems would show a shorter, still
correct model on problems it had memorised. Problems come from `generate_problems` with the
recipe's seed, so a recipe sees the same problems on every machine.
"""

from __future__ import annotations

import random

from cotbench.errors import CotbenchError
from cotbench.harness_tasks.arith import LEVELS, ArithProblem, evaluation_problems, generate_problems
from cotbench.harness_tasks.utils import doc_to_text_math

TRAIN_SEED = 7  # any seed but harness_tasks.arith.TEST_SEED; the recipe's own seed is added to it


def training_problems(levels: tuple[str, ...], per_level: int, seed: int = 0) -> list[ArithProblem]:
    """`per_level` problems of each level, none of them a test problem, interleaved in a seeded
    order (so a recipe that reads the first n sees every level)."""
    unknown = [level for level in levels if level not in LEVELS]
    if unknown or not levels:
        raise CotbenchError(f"training levels {list(levels)!r}: expected one or more of {', '.join(LEVELS)}")
    if per_level < 1:
        raise CotbenchError(f"training problems per level {per_level!r}: expected a positive integer")
    held_out = {problem.text for level in LEVELS for problem in evaluation_problems(level)}
    problems = []
    for level in levels:
        found, draw = [], 0
        while len(found) < per_level:  # a test problem drawn again is replaced by the next one
            batch = generate_problems(level, per_level, seed=TRAIN_SEED * 1_000_003 + seed * 101 + draw)
            found += [problem for problem in batch if problem.text not in held_out][: per_level - len(found)]
            draw += 1
        problems += found
    random.Random(f"split:{seed}").shuffle(problems)
    return problems


def prompt_text(problem: ArithProblem) -> str:
    """The user message of a problem, exactly as the harness asks it (`doc_to_text_math`)."""
    return doc_to_text_math({"problem": problem.text})
