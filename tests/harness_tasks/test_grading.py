"""The grader on realistic responses: each case asserts the verdict (and reason where it matters)."""

import pytest

from cotbench.errors import CotbenchError
from cotbench.harness_tasks.grading import grade_choice, grade_math, split_reasoning

MATH_CASES = [
    # (response, gold, expected correct)
    (r"so the answer is \boxed{\dfrac{1}{2}}", "0.5", True),
    (r"\boxed{0.5}", r"\frac{1}{2}", True),
    (r"\boxed{\frac{1}{2}}", r"\dfrac{1}{2}", True),
    (r"\boxed{\frac12}", r"\frac{1}{2}", True),
    (r"\boxed{10\%}", "10", True),
    (r"\boxed{10}", r"10\%", True),
    (r"\boxed{x=5}", "5", True),
    (r"\boxed{x = 7}", "5", False),
    (r"\boxed{y = 5}", "x = 5", False),
    (r"\boxed{x = 0.0000668}", ".0000672", False),
    (r"\boxed{[2,5)}", "[2,5)", True),
    (r"\boxed{(2,5]}", "[2,5)", False),
    (r"\boxed{(-\infty, 3)}", r"(-\infty,3)", True),
    (r"\boxed{\infty}", r"\infty", True),
    (r"\boxed{90^\circ}", "90", True),
    (r"\boxed{45^{\circ}}", "45", True),
    (r"\boxed{1,000}", "1000", True),
    (r"\boxed{1{,}000}", "1000", True),
    (r"\boxed{5 \text{ cm}}", "5", True),
    (r"\boxed{\$18}", "18", True),
    (r"\boxed{3} at first, but actually \boxed{4}", "4", True),
    (r"\boxed{4} at first, but actually \boxed{3}", "4", False),
    (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)", True),
    (r"\boxed{(3, \pi/2)}", r"\left( 3, \frac{\pi}{2} \right)", True),
    (r"\boxed{(3, \pi)}", r"\left( 3, \frac{\pi}{2} \right)", False),
    (r"\boxed{\frac{\frac{\frac{1}{2}}{3}}{4}}", r"\frac{1}{24}", True),
    (r"\boxed{\sqrt{2}/2}", r"\frac{\sqrt{2}}{2}", True),
    (r"\boxed{2\sqrt{3}}", r"\sqrt{12}", True),
    (r"\boxed{-3}", "-3", True),
    (r"\boxed{3}", "-3", False),
    (r"\boxed{p - q}", "p - q", True),
    (r"\boxed{\text{Evelyn}}", r"\text{Evelyn}", True),
    (r"The answer is 42.", "42", True),
    ("Final answer: 17", "17", True),
    ("**Final Answer**\n\\boxed{204}", "204", True),
    ("<think>blah \\boxed{7} and more thinking", "7", True),  # unclosed think: whole text
    ("thinking \\boxed{7}</think> the answer is \\boxed{8}", "7", False),  # answer after </think> counts
    ("thinking \\boxed{8}</think> so \\boxed{7}", "7", True),
    ("no answer here at all", "7", False),
    ("", "7", False),
    (r"\boxed{}", "7", False),
    (r"\boxed{18 dollars}", "18", False),
    (r"\boxed{2, 3}", "2,3", True),
    (r"\boxed{0.333}", r"\frac{1}{3}", False),
]


@pytest.mark.parametrize("response,gold,expected", MATH_CASES)
def test_math_verdicts(response, gold, expected):
    assert grade_math(response, gold).correct is expected


def test_reasons_are_recorded():
    assert grade_math("nothing", "3").reason == "no_answer"
    assert grade_math(r"\boxed{4}", "3").reason == "mismatch"
    assert grade_math(r"\boxed{3}", "3").reason == "correct"
    assert grade_math(r"\boxed{" + "(" * 3000 + "}", "3").reason == "parse_failure"


def test_pathological_input_is_graded_wrong_not_raised():
    nested = r"\frac{" * 200 + "1" + "}{2}" * 200
    verdict = grade_math(rf"\boxed{{{nested}}}", "1")
    assert verdict.correct is False
    assert verdict.reason in {"parse_failure", "timeout", "mismatch"}  # never grader_error (issue 27)


def test_nested_braces_and_fbox():
    def read(response: str, gold: str):
        verdict = grade_math(response, gold, extraction="strict")
        return verdict.correct, verdict.extracted

    assert read(r"x \boxed{\frac{a}{b^{2}}} y", r"\frac{a}{b^2}") == (True, r"\frac{a}{b^{2}}")
    assert read(r"\fbox{12}", "12") == (True, "12")
    assert read(r"\boxed 5 apples", "5") == (True, "5")
    assert read(r"\boxed{unclosed", "1") == (False, None)
    assert read(r"\boxed{1} then \boxed{\{2\}}", r"\{2\}") == (True, r"\{2\}")


def test_split_reasoning():
    assert split_reasoning("a</think>b") == ("a", "b", True)
    assert split_reasoning("a[END]b", "[END]") == ("a", "b", True)
    assert split_reasoning("no marker") == ("", "no marker", False)
    # the LAST marker ends thinking (lm-eval, lighteval, OpenCompass): a quoted marker does not
    assert split_reasoning("a</think>b</think>c") == ("a</think>b", "c", True)
    assert grade_math("I'd write \\boxed{4}</think> then close</think> so \\boxed{5}", "5").correct


def test_every_verdict_says_where_its_answer_came_from():
    assert grade_math(r"so \boxed{6}", "6").extracted_by == "box"
    assert grade_math("Therefore, the solution to the equation is $x = 6$.", "6").extracted_by == "fallback"
    assert grade_math("nothing here", "6").extracted_by is None
    assert grade_choice(r"\boxed{B}", "B").extracted_by == "box"
    assert grade_choice("The answer is (B).", "B").extracted_by == "fallback"


def test_strict_extraction_grades_box_only():
    stated = "Therefore, there are 240 possible outfits."
    assert grade_math(stated, "240").correct is True
    strict = grade_math(stated, "240", extraction="strict")
    assert (strict.correct, strict.reason, strict.extracted) == (False, "no_answer", None)
    assert grade_math(r"\boxed{240}", "240", extraction="strict").correct is True
    assert grade_choice("The answer is (B).", "B", extraction="strict").correct is False


def test_unknown_extraction_mode_is_one_clear_error():
    with pytest.raises(CotbenchError, match=r"extraction='loose': expected one of fallback, strict"):
        grade_math(r"\boxed{1}", "1", extraction="loose")


CHOICE_CASES = [
    (r"\boxed{C}", "C", True),
    (r"\boxed{\text{(C)}}", "C", True),
    (r"\boxed{(B)}", "B", True),
    (r"\boxed{b}", "B", True),
    (r"\boxed{A. 4}", "A", True),
    (r"\boxed{(A) 4}", "A", True),
    (r"\boxed{D}", "C", False),
    ("Answer: (B)", "B", True),
    ("The answer is D.", "D", True),
    ("the correct option is C", "C", True),
    ("**Answer:** A", "A", True),
    ("I am not sure.", "A", False),
    ("<think>maybe \\boxed{A}</think>\\boxed{B}", "B", True),
    (r"\boxed{4}", "A", False),
]


@pytest.mark.parametrize("response,gold,expected", CHOICE_CASES)
def test_choice_verdicts(response, gold, expected):
    assert grade_choice(response, gold).correct is expected


def test_choice_reasons():
    assert grade_choice("nothing", "A").reason == "no_answer"
    assert grade_choice(r"\boxed{42}", "A").reason == "parse_failure"
    assert grade_choice(r"\boxed{B}", "A").reason == "mismatch"
