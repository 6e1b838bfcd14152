"""One grader for every cotbench task: split thinking from answer, extract, verify.

Grading never raises and never hangs: every failure (no answer, unparsable text, a
pathological expression that exceeds the time limit) grades the sample as wrong and records
why. Math answers are compared with math-verify (HF) plus the rules in `equivalence.py`;
multiple choice by letter (or by the option's text, mapped to its letter).

Extraction (issue 13 item 1): the last `\\boxed{}` of the answer part. When there is none,
the *fallback* reads the answer the way the independent graders do (lighteval/math-verify,
the Qwen2.5-Math toolkit, lm-eval's GSM8K "flexible-extract"): a stated "the answer is …" /
"Answer: …" / "#### …" line, else math-verify's own extraction (its `LatexExtractionConfig`:
"final answer is $…$" then the last math expression; its `ExprExtractionConfig`: the last
plain number or expression, which is GSM8K's last number). Every verdict says which of the
two found the answer (`extracted_by`: `box` | `fallback`); `extraction="strict"` grades
box-only, as cotbench did before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .equivalence import as_comparable_sets, expand_repeating_decimals, numbers_equal

# Default end-of-thinking marker of DeepSeek-R1 / Qwen3 / QwQ style models.
DEFAULT_THINK_END = "</think>"
# math-verify's own per-call limits (seconds; SIGALRM based, effective in the main thread,
# which is where lm-eval calls process_results).
PARSE_TIMEOUT_S = 3
VERIFY_TIMEOUT_S = 3
# Candidates longer than this are not handed to the LaTeX parser: no real answer is this
# long, and parse time grows super-linearly with length.
MAX_ANSWER_CHARS = 2000
# The fallback reads only the end of the answer part, where a stated answer is: it keeps a
# megabyte of unclosed thinking from costing seconds of regex and LaTeX parsing.
FALLBACK_WINDOW_CHARS = 4000
# The documented bound on one grading call: up to three parses (fallback extraction, gold,
# answer) and one verification, each limited.
GRADE_TIME_LIMIT_S = 3 * PARSE_TIMEOUT_S + VERIFY_TIMEOUT_S + 1
# math-verify falls back to sympy's parse_expr, which evaluates Python; text that looks like
# code is never handed to it (graded as a parse failure instead).
_CODE_LIKE = re.compile(r"__|\bimport\b|\blambda\b|\bexec\b|\beval\b|\bopen\s*\(|\bgetattr\b|\bglobals\b|\bcompile\b|\bsystem\s*\(")
REASON_UNSAFE = "unsafe_input"

REASON_CORRECT = "correct"
REASON_NO_ANSWER = "no_answer"
REASON_PARSE_FAILURE = "parse_failure"
REASON_MISMATCH = "mismatch"
REASON_TIMEOUT = "timeout"
REASON_ERROR = "grader_error"

# Where the graded answer came from (GenerationRecord.extracted_by).
EXTRACTED_BY_BOX = "box"
EXTRACTED_BY_FALLBACK = "fallback"
# Task option (lm-eval `--metadata '{"extraction": "strict"}'`): box-only or box-then-fallback.
EXTRACTION_MODES = ("fallback", "strict")
DEFAULT_EXTRACTION = "fallback"


@dataclass(frozen=True)
class Verdict:
    correct: bool
    extracted: str | None
    reason: str  # one of the REASON_* values
    extracted_by: str | None = None  # box | fallback | None (nothing extracted)


def split_reasoning(text: str, think_end: str | None = DEFAULT_THINK_END) -> tuple[str, str, bool]:
    """Return (thinking, answer, closed) split at the *last* end-of-thinking marker.

    The last, as lm-eval, lighteval and OpenCompass split: a model that writes the marker
    while thinking (quoting it, or re-opening thinking) has its answer after the final one.
    Without a marker in the text (a model that does not think, or thinking cut by the
    length limit) the whole text is the answer part, so a box written while thinking can
    still be found; `closed` tells the two cases apart (the `acc_closed` metric).
    """
    if think_end and think_end in text:
        thinking, _, answer = text.rpartition(think_end)
        return thinking, answer, True
    return "", text, False


_BOX_COMMANDS = ("\\boxed", "\\fbox")


def _braced_from(text: str, open_index: int) -> str | None:
    """Content of the brace group opening at text[open_index] == '{', nesting aware."""
    depth = 0
    for i in range(open_index, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_index + 1 : i]
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete `\\boxed{…}` (or `\\fbox{…}`, `\\boxed 5`), or None."""
    best_start, best_content = -1, None
    for command in _BOX_COMMANDS:
        start = text.rfind(command)
        while start != -1 and start > best_start:
            rest = start + len(command)
            while rest < len(text) and text[rest] == " ":
                rest += 1
            content = None
            if rest < len(text) and text[rest] == "{":
                content = _braced_from(text, rest)
            elif command == "\\boxed" and rest > start + len(command):  # "\boxed 5"
                match = re.match(r"[^\s$]+", text[rest:])
                content = match.group(0) if match else None
            if content is not None:
                best_start, best_content = start, content
                break
            start = text.rfind(command, 0, start)
    return best_content


_ANSWER_IS = re.compile(
    r"(?:final answer|the answer)\s*(?:is|:)?\s*[:=]?\s*(.+?)(?:\.\s|\.$|\n|$)", re.IGNORECASE
)
_ANSWER_COLON = re.compile(r"answer\s*[:：]\s*(.+?)(?:\n|$)", re.IGNORECASE)
_GSM8K_MARK = re.compile(r"^####\s*(.+?)\s*$", re.MULTILINE)  # the GSM8K solutions' own answer line


def _stated_answer(answer_text: str) -> str | None:
    """The last "The answer is …" / "Answer: …" / "#### …" phrase's value, or None."""
    for pattern in (_ANSWER_IS, _ANSWER_COLON, _GSM8K_MARK):
        matches = pattern.findall(answer_text)
        if matches:
            candidate = matches[-1].strip().strip("*").strip()
            candidate = candidate.strip("$").strip()
            if candidate:
                return candidate
    return None


def _math_verify_extraction(answer_text: str) -> str | None:
    """math-verify's reading of an unboxed answer: its LaTeX extraction ("final answer is $…$",
    else the last math expression), then its plain-expression extraction (the last number
    or expression). Returns the matched text, which the grader then parses like a box."""
    if _CODE_LIKE.search(answer_text):  # never hand code-like text to sympy
        return None
    mv = _math_verify()
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    try:
        parsed = mv.parse(
            answer_text,
            extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
            parsing_timeout=PARSE_TIMEOUT_S,
            raise_on_error=True,
        )
    except Exception:  # noqa: BLE001 - unreadable text states no answer; a timeout (BaseException) is recorded as one
        return None
    matched = parsed[-1] if len(parsed) == 2 and isinstance(parsed[-1], str) else None
    return matched.strip() if matched and matched.strip() else None


def extract_answer_with_source(answer_text: str, extraction: str = DEFAULT_EXTRACTION) -> tuple[str | None, str | None]:
    """(answer, extracted_by): the last box, else (unless strict) the stated answer."""
    boxed = last_boxed(answer_text)
    if boxed is not None:
        return boxed.strip(), EXTRACTED_BY_BOX
    if extraction == "strict":
        return None, None
    window = answer_text[-FALLBACK_WINDOW_CHARS:]
    stated = _stated_answer(window)
    if stated is None:
        stated = _math_verify_extraction(window)
    return (stated, EXTRACTED_BY_FALLBACK) if stated is not None else (None, None)


def extract_answer(answer_text: str, extraction: str = DEFAULT_EXTRACTION) -> str | None:
    """The last boxed answer, else (unless strict) the stated answer (see the module docstring)."""
    return extract_answer_with_source(answer_text, extraction)[0]


from math_verify.errors import TimeoutException as _MathVerifyTimeout  # noqa: E402


def _math_verify():
    import math_verify

    return math_verify


def _parse(expression: str):
    """math-verify parse of a bare answer; returns [] on failure, raises TimeoutError."""
    mv = _math_verify()
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    wrapped = f"$\\boxed{{{expression}}}$"
    return mv.parse(
        wrapped,
        extraction_config=[LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()],
        parsing_timeout=PARSE_TIMEOUT_S,
        raise_on_error=True,
    )


_INTEGER = re.compile(r"[-+]?\d{1,300}")
_PERCENT = re.compile(r"\\?%\s*$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\{([^{}]*)\}")
# AMC-style "\textbf{(C)}\ 7": an option label in front of the value; the value is graded.
_OPTION_LABEL = re.compile(r"^\\text(?:bf)?\{\s*\([A-E]\)\s*\}(?:\\[ ,;:!]|~|\s)*(?=\S)")


def normalise_math_answer(answer: str) -> str:
    """Clean-up math-verify does not do for bare answers: thousands separators, trailing
    percent signs, `\\text{}` wrappers, AMC option labels, trailing full stops, and repeating
    decimals (`0.\\overline{3}` → `\\frac{1}{3}`)."""
    cleaned = answer.strip().rstrip(".").strip()
    cleaned = _PERCENT.sub("", cleaned)
    cleaned = _THOUSANDS.sub("", cleaned)
    cleaned = _OPTION_LABEL.sub("", cleaned)
    if re.fullmatch(r"\\text\{[^{}]*\}", cleaned):  # the whole answer is text: keep words
        cleaned = _TEXT_WRAPPER.sub(r"\1", cleaned)
    cleaned = expand_repeating_decimals(cleaned)
    return cleaned.strip()


def _equivalent(gold_parsed: list, predicted: list) -> bool:
    """math-verify's verdict, preceded by the numeric and set rules of `equivalence.py`."""
    gold_expr, predicted_expr = gold_parsed[0], predicted[0]
    numeric = numbers_equal(gold_expr, predicted_expr)
    if numeric is not None:
        return numeric
    mv = _math_verify()
    gold_set, predicted_set = as_comparable_sets(gold_expr, predicted_expr)
    if gold_set is not gold_expr or predicted_set is not predicted_expr:
        return bool(mv.verify([gold_set], [predicted_set], timeout_seconds=VERIFY_TIMEOUT_S, raise_on_error=True))
    return bool(mv.verify(gold_parsed, predicted, timeout_seconds=VERIFY_TIMEOUT_S, raise_on_error=True))


def check_extraction_mode(extraction: str) -> None:
    """One clear error for an unknown `extraction` task option."""
    if extraction not in EXTRACTION_MODES:
        from cotbench.errors import CotbenchError

        raise CotbenchError(f"extraction={extraction!r}: expected one of {', '.join(EXTRACTION_MODES)}")


def grade_math(
    response: str, gold: str, think_end: str | None = DEFAULT_THINK_END, extraction: str = DEFAULT_EXTRACTION
) -> Verdict:
    """Verdict of a free-form math answer against its gold (math-verify equivalence)."""
    check_extraction_mode(extraction)  # a bad task option is a usage error, raised before any grading
    extracted = extracted_by = None
    try:
        _thinking, answer_text, _closed = split_reasoning(response or "", think_end)
        extracted, extracted_by = extract_answer_with_source(answer_text, extraction)
        if extracted is None:
            return Verdict(False, None, REASON_NO_ANSWER)
        if len(extracted) > MAX_ANSWER_CHARS:
            return Verdict(False, extracted[:200], REASON_PARSE_FAILURE, extracted_by)
        candidate = normalise_math_answer(extracted)
        gold_clean = normalise_math_answer(gold)
        if candidate == gold_clean:
            return Verdict(True, extracted, REASON_CORRECT, extracted_by)
        if _INTEGER.fullmatch(candidate) and _INTEGER.fullmatch(gold_clean):  # AIME, GSM8K: no parser needed
            ok = int(candidate) == int(gold_clean)
            return Verdict(ok, extracted, REASON_CORRECT if ok else REASON_MISMATCH, extracted_by)
        if _CODE_LIKE.search(candidate):
            return Verdict(False, extracted[:200], REASON_UNSAFE, extracted_by)
        gold_parsed = _parse(gold_clean)
        predicted = _parse(candidate)
        if not predicted or not gold_parsed:
            return Verdict(False, extracted, REASON_PARSE_FAILURE, extracted_by)
        ok = _equivalent(gold_parsed, predicted)
        return Verdict(ok, extracted, REASON_CORRECT if ok else REASON_MISMATCH, extracted_by)
    except (TimeoutError, _MathVerifyTimeout):  # math-verify's timeout is a BaseException
        return Verdict(False, extracted, REASON_TIMEOUT, extracted_by)
    except Exception:  # noqa: BLE001 - a grader must never crash a run; the reason is recorded
        return Verdict(False, extracted, REASON_ERROR, extracted_by)


def probe_answer(probe_text: str) -> str | None:
    """The answer a probe gave: its text up to the first unmatched "}".

    Answer probes end inside a box ("…**Final Answer**\\n\\boxed{" for EntroCut and Dynasor;
    DEER's "…\\boxed" leaves the "{" to the model), so what the model wrote before closing the
    box is its answer at that point of the thinking (Dynasor's `obtain_answer` reads it the same
    way). None when the probe never closed the box (a truncated answer is not an answer)."""
    text = probe_text[1:] if probe_text.startswith("{") else probe_text
    return text_before_unmatched_brace(text) or None


def text_before_unmatched_brace(text: str) -> str | None:
    """`text` up to its first unmatched "}" (stripped): the end of a box the text was written
    inside. None when no brace closes it."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return text[:i].strip()
            depth -= 1
    return None


def grade_probe(probe_text: str, gold: str) -> tuple[str | None, bool]:
    """(answer, correct) of one answer probe against the gold, with the same grader as the
    sample's own answer, so "the probe answer was right" means what "the sample was right" means."""
    answer = probe_answer(probe_text or "")
    if answer is None:
        return None, False
    return answer, grade_math("\\boxed{" + answer + "}", gold, think_end=None).correct


_LETTER_ONLY = re.compile(r"^\(?\s*([A-Da-d])\s*\)?\.?$")
_LETTER_IN_BOX = re.compile(r"^\(?\s*(?:\\text\{\s*)?\(?([A-Da-d])\)?\s*\}?\s*\)?(?:[.:)]|\s|$)")
_LETTER_PHRASES = [
    re.compile(r"answer\s*(?:is|:)?\s*[:：]?\s*\**\s*\(?([A-D])\)?(?![A-Za-z])", re.IGNORECASE),
    re.compile(r"(?:option|choice)\s*(?:is\s*)?[:：]?\s*\(?([A-D])\)?(?![A-Za-z])", re.IGNORECASE),
    re.compile(r"^\s*\(?([A-D])\)?[.:)]?\s*$", re.MULTILINE),
]
LETTERS = "ABCD"


def _option_key(text: str) -> str:
    """An option's text for comparison: no LaTeX text wrappers or $, case and spacing folded."""
    text = _TEXT_WRAPPER.sub(r"\1", str(text)).replace("$", "")
    return re.sub(r"\s+", " ", text).strip().rstrip(".").strip().casefold()


def _letter_of_option_text(text: str, choices) -> str | None:
    """The letter of the one option whose text the answer states, or None."""
    if not choices:
        return None
    key = _option_key(text)
    hits = [LETTERS[i] for i, choice in enumerate(choices[: len(LETTERS)]) if key and _option_key(choice) == key]
    return hits[0] if len(hits) == 1 else None


def _letter_of_box(boxed: str, choices) -> str | None:
    content = _TEXT_WRAPPER.sub(r"\1", boxed).strip()
    only = _LETTER_ONLY.match(content)
    if only:
        return only.group(1).upper()
    by_text = _letter_of_option_text(boxed, choices)
    if by_text:
        return by_text
    match = _LETTER_IN_BOX.match(content)
    return match.group(1).upper() if match else None


def extract_choice_with_source(
    answer_text: str, choices=None, extraction: str = DEFAULT_EXTRACTION
) -> tuple[str | None, str | None]:
    """(letter, extracted_by): from the last box (a letter, or an option's text), else (unless
    strict) from an "Answer: (C)" style phrase or a stated option text."""
    boxed = last_boxed(answer_text)
    if boxed is not None:
        letter = _letter_of_box(boxed, choices)
        return (letter, EXTRACTED_BY_BOX) if letter else (None, None)
    if extraction == "strict":
        return None, None
    window = answer_text[-FALLBACK_WINDOW_CHARS:]
    for pattern in _LETTER_PHRASES:
        matches = pattern.findall(window)
        if matches:
            return matches[-1].upper(), EXTRACTED_BY_FALLBACK
    stated = _stated_answer(window)
    letter = _letter_of_option_text(stated, choices) if stated else None
    return (letter, EXTRACTED_BY_FALLBACK) if letter else (None, None)


def extract_choice(answer_text: str, choices=None, extraction: str = DEFAULT_EXTRACTION) -> str | None:
    """The chosen letter A–D (see extract_choice_with_source)."""
    return extract_choice_with_source(answer_text, choices, extraction)[0]


def grade_choice(
    response: str,
    gold_letter: str,
    think_end: str | None = DEFAULT_THINK_END,
    extraction: str = DEFAULT_EXTRACTION,
    choices=None,
) -> Verdict:
    """Verdict of a multiple-choice answer by letter; with `choices`, a boxed or stated option
    text counts as that option's letter (models often box "Paris" rather than "B")."""
    check_extraction_mode(extraction)
    try:
        _thinking, answer_text, _closed = split_reasoning(response or "", think_end)
        letter, extracted_by = extract_choice_with_source(answer_text, choices, extraction)
        if letter is None:
            boxed = last_boxed(answer_text)
            reason = REASON_PARSE_FAILURE if boxed is not None else REASON_NO_ANSWER
            return Verdict(False, boxed, reason, EXTRACTED_BY_BOX if boxed is not None else None)
        ok = letter == gold_letter.strip().upper()
        return Verdict(ok, letter, REASON_CORRECT if ok else REASON_MISMATCH, extracted_by)
    except Exception:  # noqa: BLE001
        return Verdict(False, None, REASON_ERROR)
