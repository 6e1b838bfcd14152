"""Property-based fuzzing of the grader: over 10,000 generated strings it never raises, never
exceeds its per-sample time limit and never reports `grader_error` (a time-out is reported as
`timeout`: issue 27); nothing in a response is executed. The grader runs as in a real task:
with the fallback extraction on (unboxed text goes through math-verify's extraction), as if
cut off by the length limit or not, and, for multiple choice, with options to match the
answer's text against."""

import os
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotbench.harness_tasks.grading import GRADE_TIME_LIMIT_S, Verdict, grade_choice, grade_math

EXAMPLES = int(os.environ.get("COTBENCH_FUZZ_EXAMPLES", 3000))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
# Deep nesting makes math-verify hit its own time limits (seconds per case): fewer examples.
FUZZ_SLOW = settings(max_examples=max(1, EXAMPLES // 30), deadline=None, suppress_health_check=list(HealthCheck), database=None)
LATEX_ATOMS = ["\\frac{", "\\dfrac{", "\\sqrt{", "}", "{", "^", "_", "\\pi", "\\infty", "\\left(", "\\right)", "(", ")", "[", "]",
               ",", "=", "+", "-", "*", "/", "x", "y", "1", "2", "10", "0.5", "\\%", "^\\circ", "\\text{", "\\boxed{", "</think>",
               "\\\\", "$", " ", "\\cdot", "\\le", "\\cup", "\\{", "\\}", "e", "i", "!", ".", "\\begin{pmatrix}", "&"]


OPTIONS = ["1", "x+1", "\\frac{1}{2}", "none of these"]


def check(response: str, gold: str) -> None:
    truncated = len(response) % 2 == 1  # half the outputs as if cut off by the length limit
    began = time.perf_counter()
    verdict = grade_math(response, gold, extraction="fallback", truncated=truncated)
    assert isinstance(verdict, Verdict) and isinstance(verdict.correct, bool)
    assert verdict.extracted_by in {"box", "fallback", "truncated_tail", None}
    assert verdict.reason != "grader_error", (verdict, response)
    assert time.perf_counter() - began < GRADE_TIME_LIMIT_S
    choice = grade_choice(response, "C", extraction="fallback", choices=OPTIONS)
    assert isinstance(choice.correct, bool) and choice.reason != "grader_error", (choice, response)


@FUZZ
@given(st.lists(st.sampled_from(LATEX_ATOMS), max_size=40).map("".join), st.sampled_from(["1", "\\frac{1}{2}", "[2,5)", "x+1"]))
def test_random_latex(response, gold):
    check(response, gold)


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_unicode(text):
    check(text, "7")
    check(f"\\boxed{{{text}}}", "7")


@FUZZ_SLOW
@given(st.integers(min_value=0, max_value=12), st.integers(min_value=-(10**30), max_value=10**30))
def test_nesting_and_huge_numbers(depth, number):
    nested = "\\frac{" * depth + str(number) + "}{3}" * depth
    check(f"\\boxed{{{nested}}}", str(number))
    check("{" * depth + f"\\boxed{{{number}" + "}" * (depth // 2), str(number))


@FUZZ
@given(st.text(alphabet="{}\\boxed()[]$^_ 0123456789", max_size=200))
def test_unbalanced_braces(text):
    check(text, "3")


def test_megabyte_outputs_and_empty():
    check("", "1")
    check("Wait, " * 200_000 + "\\boxed{5}", "5")
    check("\\boxed{" + "1" * 1_000_000 + "}", "1")
    check("{" * 500_000, "1")
    check("\\boxed{" + "\\frac{" * 60 + "7" + "}{3}" * 60 + "}", "7")  # deep nesting: a timeout, graded wrong
    check(f"\\boxed{{{10**400}}}", str(10**400))
    assert grade_math("x " * 500_000 + "\\boxed{5}", "5").correct
    check("Wait, " * 200_000 + "so the answer is 5", "5")  # megabyte without a box: the fallback reads only the end
    check("1 + " * 300_000 + "1", "300001")
    assert grade_math("x " * 500_000 + "The answer is 5.", "5").correct


def test_model_text_is_never_executed(tmp_path):
    target = tmp_path / "pwned"
    payloads = [f"__import__('os').system('touch {target}')", f"exec(\"open('{target}','w')\")",
                f"(lambda: __import__('pathlib').Path('{target}').touch())()", f"eval(\"open('{target}','w')\")"]
    for payload in payloads:
        for response in (f"\\boxed{{{payload}}}", f"The answer is {payload}", payload):
            verdict = grade_math(response, "1")
            assert verdict.correct is False
    assert not os.path.exists(target)
