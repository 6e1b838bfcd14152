"""Self-consistency of the grader (issue 27): an output that states its answer, in any form
the grader supports and after any distracting "answer" phrase or earlier draft, is graded by
the answer it stated last. Hypothesis builds the outputs; the grader must find the stated
value right against its gold and wrong against any other gold, and never fail with
`grader_error`."""

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotbench.harness_tasks.grading import grade_choice, grade_math

# Issue 27's bar: the property holds over at least 10,000 generated outputs per run.
EXAMPLES = int(os.environ.get("COTBENCH_SELF_CONSISTENCY_EXAMPLES", 10_000))
# Multiple choice has fewer forms (five statements, four letters); a fifth of the math count covers them.
CHOICE_EXAMPLES = max(1, EXAMPLES // 5)
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
CHOICE_PROPERTY = settings(max_examples=CHOICE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)

# Phrases with the word "answer" that state nothing (the GSM8K outputs issue 27 found: math-verify's
# anchors read a number from them), and prose that merely mentions an answer.
DISTRACTORS = [
    "The test has 10 long answer questions: 5 of them are worth 2 points.",
    "She has to answer 70-36 = 34 questions before lunch.",
    "To express the answer as a percentage: 90 / 30 * 100 % = 50 %.",
    "Let me double-check the answer before writing it down.",
    "The answer depends on how many boxes are left, 12 or 13.",
    "My first answer was too large, so I recount: 4 + 4 = 8.",
    "The answer is a whole number, so 7.5 rounds down to 7.",
]
WORK = [
    "First, 16 - 3 - 4 = 9 eggs are left.",
    "She makes 9 * 2 = 18 dollars.",
    "The price rises by 150%, so the house is worth 80,000 * 2.5 = 200,000.",
    "So $f(-2) + f(-1) = \\frac{14}{3}$ in total.",
    "Each side is $96/8 = 12$ cm.",
]
POLITE_ENDINGS = ["", "\nI hope this helps!", "\n\nLet me know if anything is unclear."]


@st.composite
def stated_values(draw):
    """(how the output writes the value in a box, in a sentence, gold, a different gold)."""
    kind = draw(st.sampled_from(["integer", "integer", "integer", "thousands", "negative", "money", "percent",
                                 "unit", "decimal", "fraction"]))
    n = draw(st.integers(min_value=0, max_value=99_999))
    other = str(n + draw(st.integers(min_value=1, max_value=50)))
    if kind == "thousands":
        n = max(n, 1000)
        return f"{n:,}".replace(",", "{,}"), f"{n:,}", str(n), other
    if kind == "negative":
        return f"-{n + 1}", f"-{n + 1}", f"-{n + 1}", str(n + 1)
    if kind == "money":
        return f"\\${n}", f"${n}", str(n), other
    if kind == "percent":
        box = draw(st.sampled_from([f"{n}\\%", f"({n}\\%)", f"{n}\\% \\text{{ discount}}", f"\\text{{{n}\\%}}", f"{n} percent",
                                   f"{n}\\ \\%", f"{n}~\\%"]))
        return box, draw(st.sampled_from([f"{n}%", f"{n} percent", f"$({n}\\%)$"])), str(n), other
    if kind == "unit":
        unit = draw(st.sampled_from(["cm", "apples", "dollars", "minutes"]))
        return f"{n} \\text{{ {unit}}}", f"{n} {unit}", str(n), other
    if kind == "decimal":
        cents = draw(st.integers(min_value=1, max_value=99))
        value = f"{n}.{cents:02d}".rstrip("0")
        return value, value, value, f"{n}.{cents:02d}1"
    if kind == "fraction":
        numerator = draw(st.integers(min_value=1, max_value=97))
        denominator = draw(st.sampled_from([2, 3, 7, 11, 101]))
        if numerator % denominator == 0:
            numerator += 1
        frac = f"\\frac{{{numerator}}}{{{denominator}}}"
        return frac, f"${frac}$", frac, f"\\frac{{{numerator}}}{{{denominator + 2}}}"
    return str(n), str(n), str(n), other


def final_statement(form: str, box: str, sentence: str) -> str:
    return {
        "box": f"\\boxed{{{box}}}",
        "dollar box": f"The total is $\\boxed{{{box}}}$.",
        "final answer heading": f"**Final Answer**\n\\[\n\\boxed{{{box}}}\n\\]",
        "answer colon": f"Answer: {sentence}",
        "bold answer": f"**Answer:** {sentence}",
        "the answer is": f"So the answer is {sentence}.",
        "final answer is": f"The final answer is {sentence}",
        "final answer colon": f"Final answer: {sentence}",
        "gsm8k mark": f"#### {sentence}",
        "last line": f"So in total there are {sentence}.",  # no statement: the tail's number
    }[form]


MATH_FORMS = ["box", "dollar box", "final answer heading", "answer colon", "bold answer", "the answer is",
              "final answer is", "final answer colon", "gsm8k mark", "last line"]
BOX_FORMS = {"box", "dollar box", "final answer heading"}


@st.composite
def math_outputs(draw):
    box, sentence, gold, other_gold = draw(stated_values())
    form = draw(st.sampled_from(MATH_FORMS))
    if form == "last line" and "\\" in sentence:  # a bare LaTeX value without a statement is not a GSM8K-style line
        form = "the answer is"
    parts = draw(st.lists(st.sampled_from(DISTRACTORS + WORK), max_size=5))
    # An earlier draft the model revised: a different value in any form, before the final statement.
    # (Not before an unstated last line: a draft is a statement, and a statement outranks the tail.)
    if form != "last line" and draw(st.booleans()):
        draft_box, draft_sentence, *_ = draw(stated_values())
        draft_form = draw(st.sampled_from([f for f in MATH_FORMS if f != "last line"]))
        parts.insert(draw(st.integers(0, len(parts))), final_statement(draft_form, draft_box, draft_sentence))
    thinking = draw(st.sampled_from(["", f"<think>Maybe \\boxed{{{other_gold}}}? Answer: {other_gold}</think>\n\n"]))
    text = thinking + "\n".join(parts + [final_statement(form, box, sentence)]) + draw(st.sampled_from(POLITE_ENDINGS))
    return text, gold, other_gold, form


@PROPERTY
@given(math_outputs())
def test_the_grader_reads_the_answer_stated_last(case):
    text, gold, other_gold, form = case
    right = grade_math(text, gold)
    assert right.correct, (right, text)
    assert right.extracted_by == ("box" if form in BOX_FORMS else "fallback"), (right, text)
    wrong = grade_math(text, other_gold)
    assert not wrong.correct and wrong.reason == "mismatch", (wrong, text)


CHOICES = ["Buddhism", "Daoism", "Confucianism", "Shamanism"]  # mmlu world_religions-test-013
CHOICE_FORMS = {
    "box": "\\boxed{{{letter}}}",
    "boxed option text": "\\boxed{{\\text{{{text}}}}}",
    "answer colon": "Answer: ({letter})",
    "the answer is": "The correct answer is {letter}.",
    "option": "So option {letter} is correct.",
    "lone letter": "**Final Answer**\n{letter}",
    "stated option text": "The answer is {text}.",
}


@CHOICE_PROPERTY
@given(
    st.sampled_from(sorted(CHOICE_FORMS)),
    st.integers(0, 3),
    st.lists(st.sampled_from(DISTRACTORS + ["I first thought the answer is (A), then (B)."]), max_size=4),
    st.one_of(st.none(), st.tuples(st.sampled_from(sorted(CHOICE_FORMS)), st.integers(0, 3))),
    st.sampled_from(POLITE_ENDINGS),
)
def test_the_grader_reads_the_option_stated_last(form, index, parts, draft, ending):
    letter = "ABCD"[index]
    if draft is not None:
        draft_form, draft_index = draft
        parts = [*parts, CHOICE_FORMS[draft_form].format(letter="ABCD"[draft_index], text=CHOICES[draft_index])]
    text = "\n".join(parts + [CHOICE_FORMS[form].format(letter=letter, text=CHOICES[index])]) + ending
    verdict = grade_choice(text, letter, choices=CHOICES)
    assert verdict.correct, (verdict, text)
    other = "ABCD"[(index + 1) % 4]
    assert grade_choice(text, other, choices=CHOICES).reason == "mismatch", text
