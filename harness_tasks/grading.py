"""One grader for every cotbench task: split thinking from answer, extract, verify.

Grading never raises and never hangs: every failure (no answer, unparsable text, a
pathological expression that exceeds the time limit) grades the sample as wrong and records
why. Math answers are compared with math-verify (HF); multiple choice by letter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Default end-of-thinking marker of DeepSeek-R1 / Qwen3 / QwQ style models.
DEFAULT_THINK_END = "</think>"
# math-verify's own per-call limits (seconds; SIGALRM based, effective in the main thread,
# which is where lm-eval calls process_results).
PARSE_TIMEOUT_S = 3
VERIFY_TIMEOUT_S = 3
# Candidates longer than this are not handed to the LaTeX parser: no real answer is this
# long, and parse time grows super-linearly with length.
MAX_ANSWER_CHARS = 2000
# The documented bound on one grading call: two parses and one verification, each limited.
GRADE_TIME_LIMIT_S = 2 * PARSE_TIMEOUT_S + VERIFY_TIMEOUT_S + 1
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


@dataclass(frozen=True)
class Verdict:
    correct: bool
    extracted: str | None
    reason: str  # one of the REASON_* values


def split_reasoning(text: str, think_end: str | None = DEFAULT_THINK_END) -> tuple[str, str, bool]:
    """Return (thinking, answer, closed) split at the first end-of-thinking marker.

    Without a marker in the text (a model that does not think, or thinking cut by the
    length limit) the whole text is the answer part, so a box written while thinking can
    still be found; `closed` tells the two cases apart for the record.
    """
    if think_end and think_end in text:
        thinking, _, answer = text.partition(think_end)
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


def extract_answer(answer_text: str) -> str | None:
    """The last boxed answer, else the last "The answer is …" / "Answer: …" phrase."""
    boxed = last_boxed(answer_text)
    if boxed is not None:
        return boxed.strip()
    for pattern in (_ANSWER_IS, _ANSWER_COLON, _GSM8K_MARK):
        matches = pattern.findall(answer_text)
        if matches:
            candidate = matches[-1].strip().strip("*").strip()
            candidate = candidate.strip("$").strip()
            if candidate:
                return candidate
    return None


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


_PERCENT = re.compile(r"\\?%\s*$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\{([^{}]*)\}")
# AMC-style "\textbf{(C)}\ 7": an option label in front of the value; the value is graded.
_OPTION_LABEL = re.compile(r"^\\text(?:bf)?\{\s*\([A-E]\)\s*\}(?:\\[ ,;:!]|~|\s)*(?=\S)")


def normalise_math_answer(answer: str) -> str:
    """Cosmetic clean-up math-verify does not do for bare answers: thousands separators,
    trailing percent signs, `\\text{}` wrappers, AMC option labels and trailing full stops."""
    cleaned = answer.strip().rstrip(".").strip()
    cleaned = _PERCENT.sub("", cleaned)
    cleaned = _THOUSANDS.sub("", cleaned)
    cleaned = _OPTION_LABEL.sub("", cleaned)
    if re.fullmatch(r"\\text\{[^{}]*\}", cleaned):  # the whole answer is text: keep words
        cleaned = _TEXT_WRAPPER.sub(r"\1", cleaned)
    return cleaned.strip()


def grade_math(response: str, gold: str, think_end: str | None = DEFAULT_THINK_END) -> Verdict:
    """Verdict of a free-form math answer against its gold (math-verify equivalence)."""
    try:
        _thinking, answer_text, _closed = split_reasoning(response or "", think_end)
        extracted = extract_answer(answer_text)
        if extracted is None:
            return Verdict(False, None, REASON_NO_ANSWER)
        if len(extracted) > MAX_ANSWER_CHARS:
            return Verdict(False, extracted[:200], REASON_PARSE_FAILURE)
        candidate = normalise_math_answer(extracted)
        gold_clean = normalise_math_answer(gold)
        if candidate == gold_clean:
            return Verdict(True, extracted, REASON_CORRECT)
        if _CODE_LIKE.search(candidate):
            return Verdict(False, extracted[:200], REASON_UNSAFE)
        gold_parsed = _parse(gold_clean)
        predicted = _parse(candidate)
        if not predicted:
            return Verdict(False, extracted, REASON_PARSE_FAILURE)
        mv = _math_verify()
        ok = mv.verify(gold_parsed, predicted, timeout_seconds=VERIFY_TIMEOUT_S, raise_on_error=True)
        return Verdict(bool(ok), extracted, REASON_CORRECT if ok else REASON_MISMATCH)
    except (TimeoutError, _MathVerifyTimeout):  # math-verify's timeout is a BaseException
        return Verdict(False, locals().get("extracted"), REASON_TIMEOUT)
    except Exception:  # noqa: BLE001 - a grader must never crash a run; the reason is recorded
        return Verdict(False, locals().get("extracted"), REASON_ERROR)


_LETTER_IN_BOX = re.compile(r"^\(?\s*(?:\\text\{\s*)?\(?([A-Da-d])\)?\s*\}?\s*\)?(?:[.:)]|\s|$)")
_LETTER_PHRASES = [
    re.compile(r"answer\s*(?:is|:)?\s*[:：]?\s*\**\s*\(?([A-D])\)?(?![A-Za-z])", re.IGNORECASE),
    re.compile(r"(?:option|choice)\s*(?:is\s*)?[:：]?\s*\(?([A-D])\)?(?![A-Za-z])", re.IGNORECASE),
    re.compile(r"^\s*\(?([A-D])\)?[.:)]?\s*$", re.MULTILINE),
]


def extract_choice(answer_text: str) -> str | None:
    """The chosen letter A–D: from the last box, else from an "Answer: (C)" style phrase."""
    boxed = last_boxed(answer_text)
    if boxed is not None:
        match = _LETTER_IN_BOX.match(_TEXT_WRAPPER.sub(r"\1", boxed).strip())
        return match.group(1).upper() if match else None
    for pattern in _LETTER_PHRASES:
        matches = pattern.findall(answer_text)
        if matches:
            return matches[-1].upper()
    return None


def grade_choice(response: str, gold_letter: str, think_end: str | None = DEFAULT_THINK_END) -> Verdict:
    """Verdict of a multiple-choice answer by letter."""
    try:
        _thinking, answer_text, _closed = split_reasoning(response or "", think_end)
        boxed = last_boxed(answer_text)
        letter = extract_choice(answer_text)
        if letter is None:
            reason = REASON_PARSE_FAILURE if boxed is not None else REASON_NO_ANSWER
            return Verdict(False, boxed, reason)
        ok = letter == gold_letter.strip().upper()
        return Verdict(ok, letter, REASON_CORRECT if ok else REASON_MISMATCH)
    except Exception:  # noqa: BLE001
        return Verdict(False, None, REASON_ERROR)
