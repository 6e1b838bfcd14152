"""`cot_arith`: multi-step arithmetic word problems generated from a seed (no files, no hub).

Synthetic on purpose: it is the task of our testbed model (cot_methods/testbed/build.py),
the one setting on a CPU where a method's trade-off — fewer thinking tokens against a little
accuracy — can be measured. It says nothing about real reasoning models.

A problem is a start amount and a chain of additions and subtractions ("gets 7 more",
"gives away 5"); the answer is an exact non-negative integer, graded by the same grader as
the math tasks. Levels differ in the number of steps and (easy to medium) the size of the numbers. The same
(level, seed) always yields the same problems; the test split uses `TEST_SEED` and the
testbed's training data other seeds, with test problems excluded from training.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cotbench.errors import CotbenchError

TEST_SEED = 20261122
TEST_SIZE = 200  # problems per level in the test split


@dataclass(frozen=True)
class Level:
    """Difficulty: how many operations, how large the start amount and each operand."""

    name: str
    steps: int
    start: tuple[int, int]  # inclusive range of the start amount
    operand: tuple[int, int]  # inclusive range of each added / removed amount


LEVELS = {
    "easy": Level("easy", steps=2, start=(2, 19), operand=(1, 9)),
    "medium": Level("medium", steps=3, start=(10, 49), operand=(2, 19)),
    # Two more operations than medium, on medium's numbers. With operands to 49 and totals past
    # 99 (4 steps) the 0.9 M-parameter testbed solved 1.7 % with full reasoning (build c0dbfe3):
    # a floor, where no method's effect can show.
    "hard": Level("hard", steps=5, start=(10, 49), operand=(2, 19)),
}

NAMES = ("Mia", "Tom", "Ava", "Leo", "Zoe", "Sam", "Eli", "Ivy", "Max", "Kim", "Ben", "Amy")
ITEMS = ("apples", "marbles", "stickers", "coins", "books", "cards", "shells", "pencils")
# Within a problem no verb repeats and each operation has its own adverb ("Kim then sells 9."): a
# reasoner finds the operation it is at by a word that names it alone. With one verb twice ("sells 3
# ... sells 9") or "Then Kim" before every operation, the tiny testbed model lost its place in 5-step
# problems and swung from build to build (issues 12 and 23).
GAINS = ("buys {n} more", "finds {n} more", "gets {n} more", "receives {n} more", "earns {n} more", "wins {n} more")
LOSSES = ("gives away {n}", "loses {n}", "sells {n}", "uses {n}", "spends {n}", "drops {n}")
ADVERBS = ("first", "then", "next", "later")  # the operations before the last, in order
FINAL_ADVERB = "finally"


def adverbs(count: int) -> list[str]:
    """The adverb of each of `count` operations: "first", "then", …, and "finally" for the last."""
    return [*ADVERBS[: count - 1], FINAL_ADVERB]


@dataclass(frozen=True)
class Operation:
    sign: int  # +1 adds, -1 removes
    amount: int
    phrase: str  # e.g. "buys 7 more"


@dataclass(frozen=True)
class ArithProblem:
    id: str
    level: str
    name: str
    item: str
    start: int
    operations: tuple[Operation, ...]

    @property
    def totals(self) -> list[int]:
        """The running total after each operation."""
        totals, total = [], self.start
        for op in self.operations:
            total += op.sign * op.amount
            totals.append(total)
        return totals

    @property
    def answer(self) -> int:
        return self.totals[-1]

    @property
    def statement(self) -> str:
        """The problem's facts without its question ("Mia has 12 apples. Mia first buys 7 more. ...")."""
        sentences = [f"{self.name} has {self.start} {self.item}."]
        for adverb, op in zip(adverbs(len(self.operations)), self.operations):
            sentences.append(f"{self.name} {adverb} {op.phrase}.")
        return " ".join(sentences)

    @property
    def text(self) -> str:
        return f"{self.statement} How many {self.item} does {self.name} have now?"


def generate_problem(rng: random.Random, level: Level, problem_id: str) -> ArithProblem:
    """One problem; removals never take the total below zero; no verb twice."""
    if level.steps > min(len(GAINS), len(LOSSES), len(ADVERBS) + 1):
        raise CotbenchError(f"cot_arith level {level.name!r}: {level.steps} steps is more than the verbs and adverbs allow")
    total = rng.randint(*level.start)
    start, operations, unused = total, [], {1: list(GAINS), -1: list(LOSSES)}
    for _ in range(level.steps):
        amount = rng.randint(*level.operand)
        sign = -1 if amount <= total and rng.random() < 0.5 else 1
        template = unused[sign].pop(rng.randrange(len(unused[sign])))
        operations.append(Operation(sign, amount, template.format(n=amount)))
        total += sign * amount
    return ArithProblem(problem_id, level.name, rng.choice(NAMES), rng.choice(ITEMS), start, tuple(operations))


def generate_problems(level: str, count: int, seed: int) -> list[ArithProblem]:
    """`count` problems of `level`, identical for identical (level, count, seed)."""
    if level not in LEVELS:
        raise CotbenchError(f"unknown cot_arith level {level!r}: expected one of {', '.join(LEVELS)}")
    if count < 1:
        raise CotbenchError(f"cot_arith count={count!r}: expected a positive integer")
    rng = random.Random(f"{level}:{seed}")
    return [generate_problem(rng, LEVELS[level], f"arith-{level}-{seed}-{i:05d}") for i in range(count)]


def evaluation_problems(level: str) -> list[ArithProblem]:
    return generate_problems(level, TEST_SIZE, TEST_SEED)


def load_arith_dataset(level: str):
    """The test split of one level as lm-eval's `custom_dataset` expects (id, problem, answer)."""
    import datasets

    rows = [{"id": p.id, "problem": p.text, "answer": str(p.answer), "level": p.level} for p in evaluation_problems(level)]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
