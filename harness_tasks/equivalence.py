"""Equivalence rules math-verify does not apply on its own, applied around it by the grader.

Issue 13 ("Numeric equivalence") measured three ways in which math-verify's `verify` disagrees
with the independent graders it is checked against (lighteval/math-verify, the Qwen2.5-Math
toolkit), and one notation neither reads:

- math-verify rounds floats to a fixed number of *decimals* (`float_rounding=6`), so two
  different small numbers compare equal: `0.0000668` vs `.0000672` both round to `0.000067`.
  Numbers are compared here with a *relative* tolerance instead, and integers exactly.
- A radical of a decimal (`5\\sqrt{2.12}`) stays an unevaluated sympy expression that never
  simplifies to `\\sqrt{53}`; both sides are numbers, so they are compared numerically.
- An inequality answer (`x > 2`) against an interval gold (`(2, \\infty)`) is only matched in
  one direction; the relation is turned into the set it describes before comparison.
- Repeating decimals (`0.\\overline{3}`, `4.\\overline{6}`) are not parsed at all; they are
  rewritten as the exact fraction they denote before parsing.
"""

from __future__ import annotations

import re
from fractions import Fraction

# Relative tolerance of numeric equality: equal up to floating-point evaluation error, never up
# to a rounding of the answer. A tolerance wide enough to accept a model's rounded decimal
# (the Qwen2.5-Math toolkit's `rel_tol=1e-4`) also accepts `3.14159` for `\pi` and `4.67`-like
# truncations the fidelity table grades wrong, so cotbench keeps equality exact in value.
REL_TOL = 1e-9
# Digits sympy evaluates numbers with before comparing (well above REL_TOL's 9).
EVAL_DIGITS = 30
# sympy's evalf of an unevaluated nested expression costs ~2x per nesting level (measured:
# depth 12 of \frac{\frac{…}{3}}{3} 0.18 s, depth 16 3 s, depth 20 56 s) and runs in C-backed
# arithmetic that a time limit cannot interrupt; deeper expressions are left to math-verify,
# whose verify has its own limit. No real answer nests this deep.
MAX_NUMERIC_DEPTH = 12

# `0.\overline{3}`, `4.1\overline{6}`, `.\bar{142857}`: integer part, fixed digits, repeating digits.
_REPEATING = re.compile(r"(?<![\d.])(\d*)\.(\d*)\\(?:overline|bar)\s*\{?\s*(\d+)\s*\}?")


def _repeating_to_fraction(match: re.Match) -> str:
    whole, fixed, repeating = match.group(1) or "0", match.group(2), match.group(3)
    # x = whole.fixed(repeating)... = whole + (fixed·repeating - fixed) / (10^|fixed| (10^|repeating| - 1))
    numerator = int(fixed + repeating) - int(fixed or "0")
    value = int(whole) + Fraction(numerator, 10 ** len(fixed) * (10 ** len(repeating) - 1))
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def expand_repeating_decimals(answer: str) -> str:
    """`0.\\overline{3}` → `\\frac{1}{3}`; text without the notation is returned unchanged."""
    if "\\overline" not in answer and "\\bar" not in answer:
        return answer
    return _REPEATING.sub(_repeating_to_fraction, answer)


def _deeper_than(expr, limit: int) -> bool:
    """Whether the expression tree nests deeper than `limit` (iterative: no recursion limit)."""
    stack = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((arg, depth + 1) for arg in node.args)
    return False


def _number(expr):
    """A finite complex value of a closed-form number (no free symbols), else None."""
    import sympy

    if not isinstance(expr, sympy.Expr) or expr.free_symbols or not expr.is_number:
        return None
    if _deeper_than(expr, MAX_NUMERIC_DEPTH):
        return None
    value = complex(expr.evalf(EVAL_DIGITS))
    if value != value or abs(value) == float("inf"):  # nan / infinities: leave to math-verify
        return None
    return value


def _solution_value(expr):
    """`x = 5` → 5 (a bare equation naming one value), else the expression itself."""
    import sympy

    if isinstance(expr, sympy.Eq) and isinstance(expr.lhs, sympy.Symbol) and isinstance(expr.rhs, sympy.Expr):
        return expr.rhs
    return expr


def numbers_equal(gold, predicted) -> bool | None:
    """Numeric verdict when both sides are numbers; None when either is not (math-verify decides).

    Integers compare exactly; everything else with the relative tolerance REL_TOL. Any error
    while evaluating either side means "this rule does not apply", never a grader error (issue
    27): math-verify reads `(50\\%)` as `50·UnevaluatedExpr(1/100)`, which `complex()` refuses
    with a TypeError, and math-verify's own comparison still grades such an answer.
    """
    try:
        return _numbers_equal(gold, predicted)
    except Exception:  # noqa: BLE001 - sympy raises TypeError, ValueError, AttributeError…: no numeric verdict
        return None


def _numbers_equal(gold, predicted) -> bool | None:
    import sympy

    if isinstance(gold, sympy.Eq) and isinstance(predicted, sympy.Eq) and gold.lhs != predicted.lhs:
        return None  # `y = 5` for `x = 5`: which variable is named is math-verify's call
    gold, predicted = _solution_value(gold), _solution_value(predicted)
    gold_value, predicted_value = _number(gold), _number(predicted)
    if gold_value is None or predicted_value is None:
        return None
    if isinstance(gold, sympy.Integer) and isinstance(predicted, sympy.Integer):
        return int(gold) == int(predicted)
    scale = max(abs(gold_value), abs(predicted_value))
    return abs(gold_value - predicted_value) <= REL_TOL * scale


def _relation_set(expr):
    """The real set an inequality in one variable describes (`x > 2` → (2, ∞)), else None.

    Covers single relations, chains (`-1 < x \\le 3`, an And) and alternatives (`x < -2 or
    x > 2`, which math-verify reads as a set of relations).
    """
    import sympy
    from sympy.core.relational import Relational

    def one(rel):
        if isinstance(rel, sympy.Eq) or not isinstance(rel, (Relational, sympy.And, sympy.Or)):
            return None
        if len(rel.free_symbols) != 1 or _deeper_than(rel, MAX_NUMERIC_DEPTH):
            return None
        try:
            return rel.as_set()
        except Exception:  # noqa: BLE001 - sympy cannot solve it (NotImplementedError, PolynomialError, …): no rule applies
            return None

    if isinstance(expr, sympy.FiniteSet) and len(expr) > 1:
        parts = [one(item) for item in expr]
        if any(part is None for part in parts) or len({*expr.free_symbols}) != 1:
            return None
        return sympy.Union(*parts)
    return one(expr)


def as_comparable_sets(gold, predicted):
    """When one side is a set (interval, union) and the other an inequality, the inequality's set.

    Returns the (gold, predicted) pair to compare; unchanged when the rule does not apply.
    """
    import sympy

    if isinstance(gold, sympy.Set) and not isinstance(gold, sympy.FiniteSet):
        converted = _relation_set(predicted)
        if converted is not None:
            return gold, converted
    if isinstance(predicted, sympy.Set) and not isinstance(predicted, sympy.FiniteSet):
        converted = _relation_set(gold)
        if converted is not None:
            return converted, predicted
    return gold, predicted
