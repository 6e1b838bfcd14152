"""The rules applied around math-verify: repeating decimals, numeric equality, inequalities as sets."""

import time

import pytest
import sympy

from cotbench.harness_tasks.equivalence import (
    MAX_NUMERIC_DEPTH,
    as_comparable_sets,
    expand_repeating_decimals,
    numbers_equal,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        (r"0.\overline{3}", r"\frac{1}{3}"),
        (r"4.\overline{6}", r"\frac{14}{3}"),
        (r"1.2\overline{3}", r"\frac{37}{30}"),
        (r".\overline{142857}", r"\frac{1}{7}"),
        (r"0.\bar{6}", r"\frac{2}{3}"),
        (r"0.\overline{9}", r"\frac{1}{1}"),  # 0.999… is 1
        (r"\overline{AB}", r"\overline{AB}"),  # a segment, not a decimal: unchanged
        ("0.5", "0.5"),
    ],
)
def test_repeating_decimals_become_exact_fractions(text, expected):
    assert expand_repeating_decimals(text) == expected


def test_numbers_compare_relatively_and_integers_exactly():
    assert numbers_equal(sympy.Float("0.0000668"), sympy.Float("0.0000672")) is False  # 0.6 % apart
    assert numbers_equal(sympy.Rational(21, 312500), sympy.Float("0.0000672")) is True
    assert numbers_equal(5 * sympy.sqrt(sympy.Float("2.12")), sympy.sqrt(53)) is True
    assert numbers_equal(sympy.Integer(10**20), sympy.Integer(10**20 + 1)) is False
    assert numbers_equal(sympy.Integer(18), sympy.Float("18.00")) is True
    assert numbers_equal(sympy.Float("3.14159"), sympy.pi) is False
    x = sympy.Symbol("x")
    assert numbers_equal(sympy.Eq(x, 6), sympy.Integer(6)) is True
    assert numbers_equal(x + 1, sympy.Integer(6)) is None  # not a number: math-verify decides


def test_what_sympy_cannot_evaluate_is_left_to_math_verify_not_an_error():
    # math-verify's reading of `(50\%)`: 50 times an unevaluated 1/100, which complex() refuses
    percent = sympy.Mul(50, sympy.UnevaluatedExpr(sympy.Rational(1, 100)))
    assert numbers_equal(sympy.Integer(50), percent) is None


def test_deep_nesting_is_left_to_math_verify_instead_of_hanging():
    deep = sympy.Integer(7)
    for _ in range(MAX_NUMERIC_DEPTH * 4):
        deep = sympy.Mul(deep, sympy.Pow(3, -1, evaluate=False), evaluate=False)
    began = time.perf_counter()
    assert numbers_equal(deep, sympy.Integer(7)) is None
    assert time.perf_counter() - began < 1


def test_inequalities_become_the_sets_they_describe():
    x = sympy.Symbol("x")
    gold = sympy.Interval.open(2, sympy.oo)
    assert as_comparable_sets(gold, x > 2) == (gold, gold)
    assert as_comparable_sets(x > 2, gold) == (gold, gold)
    chain = sympy.And(x > -1, x <= 3)
    assert as_comparable_sets(sympy.Interval.Lopen(-1, 3), chain)[1] == sympy.Interval.Lopen(-1, 3)
    either = sympy.FiniteSet(x < -2, x > 2)
    union = sympy.Union(sympy.Interval.open(-sympy.oo, -2), sympy.Interval.open(2, sympy.oo))
    assert as_comparable_sets(union, either)[1] == union
    assert as_comparable_sets(sympy.Integer(3), x > 2) == (sympy.Integer(3), x > 2)  # no set: unchanged
