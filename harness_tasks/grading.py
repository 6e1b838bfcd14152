"""One grader for every cotbench task: split thinking from answer, extract, verify.

Grading never raises and never hangs: every failure (no answer, unparsable text, a
pathological expression that exceeds the time limit) grades the sample as wrong and records
why. Math answers are compared with math-verify (HF) plus the rules in `equivalence.py`;
multiple choice by letter (or by the option's text, mapped to its letter).

Extraction reads the answer the model stated *last* in the answer part (issue 27). The
statements are the last `\\boxed{}` and the phrases "the (final) answer is …", "Answer: …",
"#### …" (and for multiple choice "option C", a line with only the letter, an option's text);
they compete by position, so a later "Answer: 55" overrides an earlier box and a later box an
earlier phrase. Only when nothing is stated, the *fallback* reads the tail the way the
independent graders read unstated answers (lighteval/math-verify, the Qwen2.5-Math toolkit,
lm-eval's GSM8K "flexible-extract"): math-verify's extraction of the last math expression or
number, confined to the last sentence or line that holds one and without math-verify's
"answer" anchors, which otherwise read a number out of "long answer questions: 5" in the
middle of a solution. Every verdict says where its answer came from (`extracted_by`: `box` |
`fallback` | `truncated_tail`, the fallback's reading of a generation cut off by the length
limit); `extraction="strict"` grades box-only, as cotbench did before issue 13.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import math_verify
from math_verify.errors import TimeoutException as _MathVerifyTimeout
from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

from ..thinking import DEFAULT_THINK_END, split_thinking
from .equivalence import as_comparable_sets, expand_repeating_decimals, numbers_equal

# math-verify's own per-call limits (seconds; SIGALRM based, effective in the main thread,
# which is where lm-eval calls process_results).
PARSE_TIMEOUT_S = 3
VERIFY_TIMEOUT_S = 3
# Candidates longer than this are not handed to the LaTeX parser: no real answer is this
# long, and parse time grows super-linearly with length.
MAX_ANSWER_CHARS = 2000
# Answer phrases and the fallback are read only in the end of the answer part, where a stated
# answer is: it keeps a megabyte of unclosed thinking from costing seconds of regex and LaTeX
# parsing. (A box is found anywhere: finding it costs one reverse search.)
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
# The backend never finished the generation (a request that failed for good, issue 29): not
# graded, since a partial trace's answer would be a guess; counted wrong in acc and named apart.
REASON_REQUEST_FAILED = "request_failed"

# Where the graded answer came from (GenerationRecord.extracted_by).
EXTRACTED_BY_BOX = "box"
EXTRACTED_BY_FALLBACK = "fallback"
# The fallback's reading of a generation cut off by the length limit before it stated an answer
# (issue 27): kept apart because it is a guess from unfinished work, where lm-eval's GSM8K
# "strict-match" filter gives "[invalid]".
EXTRACTED_BY_TRUNCATED = "truncated_tail"
# Task option (lm-eval `--metadata '{"extraction": "strict"}'`): box-only, or (the default) the
# answer stated last in any form, then the fallback.
EXTRACTION_MODES = ("fallback", "strict")
DEFAULT_EXTRACTION = "fallback"


@dataclass(frozen=True)
class Verdict:
    correct: bool
    extracted: str | None
    reason: str  # one of the REASON_* values
    extracted_by: str | None = None  # box | fallback | truncated_tail | None (nothing extracted)


# The grader's name for the one split rule (cotbench/thinking.py: at the *last* end-of-thinking
# marker, as lm-eval, s1 and DEER read answers); `harness_tasks/utils.py` and the tests use it.
split_reasoning = split_thinking


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


def _last_box(text: str) -> tuple[int, str] | None:
    """(start, content) of the last complete `\\boxed{…}` (or `\\fbox{…}`, `\\boxed 5`), or None."""
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
    return None if best_content is None else (best_start, best_content)


# "The answer is 42.", "the final answer is: 42", "Final Answer: 17", "**Answer:** 42", "answer = 42".
# "answer" must be followed by "is", ":" or "=", so "long answer questions: 5" and "she has to
# answer 70-36 = 34" state nothing (issue 27); the value runs to the end of its sentence or line.
_ANSWER_PHRASE = re.compile(
    r"\banswer\b\s*(?:\*\*\s*)?(?:\bis\b\s*:?|[:：=])[\s*]*(?P<value>.+?)\s*(?=\.\s|\.?\Z|\n)", re.IGNORECASE
)
# A stated value starts like an answer, not like prose ("the answer is correct", "the answer: we
# add 3 + 4 = 7"): with a digit, a sign or bracket, "$" or a LaTeX command, or one letter (a
# variable, an option) that a word or number does not follow ("x = 5", "C", but not the article
# in "the answer is a prime number, 7" or "I think 5"). Prose after "answer" states nothing, and
# the fallback reads the tail.
_ANSWER_LIKE = re.compile(r"^(?:[-+−.(\[{$\\\d]|[A-Za-z](?![A-Za-z])(?!\s+[A-Za-z\d]))")
_GSM8K_MARK = re.compile(r"^[ \t]*####[ \t]*(?P<value>\S.*?)[ \t]*$", re.MULTILINE)  # the GSM8K solutions' own answer line
# "The answer is 18 dollars.": in a sentence, a number followed by words is that number with its
# unit (math-verify's own plain-text reading does the same); a box's content stays as written.
_NUMBER_THEN_WORDS = re.compile(r"^(?P<number>[-+]?\\?\$?\d[\d,]*(?:\.\d+)?)\s+[A-Za-z][A-Za-z \t]*$")
_MATH_DELIMITERS = re.compile(r"^(?:\$\$?|\\\(|\\\[)\s*(?P<inner>.*?)\s*(?:\$\$?|\\\)|\\\])$", re.DOTALL)


def _clean_stated(value: str) -> str:
    """A stated value without its Markdown emphasis and math delimiters ("**$\\frac{1}{2}$**")."""
    value = value.strip().strip("*").strip()
    delimited = _MATH_DELIMITERS.match(value)
    return (delimited.group("inner") if delimited else value.strip("$")).strip()


def _last_phrase(text: str, offset: int = 0) -> tuple[int, str] | None:
    """(offset + start, value) of the last "the answer is …" / "Answer: …" / "#### …" statement
    of `text` that states a value, or None."""
    best = None
    for pattern in (_ANSWER_PHRASE, _GSM8K_MARK):
        for match in pattern.finditer(text):
            value = _clean_stated(match.group("value"))
            with_unit = _NUMBER_THEN_WORDS.match(value)
            value = with_unit.group("number") if with_unit else value
            if _ANSWER_LIKE.match(value) and (best is None or offset + match.start() > best[0]):
                best = (offset + match.start(), value)
    return best


def _last_of(*statements):
    """The statement (a tuple starting with its position) that starts last, or None if none was found.

    Every form competes by position (issue 27): a later "Answer: 55" overrides an earlier box,
    a later box an earlier "the answer is", a later "#### 55" an earlier "Answer: 34"."""
    found = [statement for statement in statements if statement]
    return max(found, key=lambda statement: statement[0]) if found else None


def _window(answer_text: str) -> tuple[int, str]:
    """(offset, text) of the end of the answer part that answer phrases are looked for in."""
    offset = max(0, len(answer_text) - FALLBACK_WINDOW_CHARS)
    return offset, answer_text[offset:]


# Where a sentence or line ends: the fallback's tail starts after one of these. Math spans are
# masked first, so a display formula or "$3.5$" is never cut (inline "$…$" holds no ". ", which
# tells it from two currency amounts in one sentence).
_MATH_SPAN = re.compile(r"\$\$.*?\$\$|\\\[.*?\\\]|\\\(.*?\\\)|\$(?:[^$\n.]|\.(?!\s))*\$", re.DOTALL)
_SEGMENT_END = re.compile(r"\n|[.!?](?=\s)")
_HAS_VALUE = re.compile(r"[\d\\$]")


def _tail(answer_text: str) -> str | None:
    """The text from the start of its last sentence or line that holds a number or math: where
    an unstated answer is, and all the fallback reads (issue 27: on a whole GSM8K solution,
    math-verify's "answer" anchors read "she has to answer 70-36 = 34" over a final "so 55")."""
    masked = _MATH_SPAN.sub(lambda span: "x" * len(span.group()), answer_text)
    ends = [match.end() for match in _SEGMENT_END.finditer(masked)]
    for start, end in reversed(list(zip([0, *ends], [*ends, len(answer_text)]))):
        if _HAS_VALUE.search(answer_text, start, end):
            return answer_text[start:]
    return None


# math-verify's extraction ranks "answer … = x" and "answer … x" (up to 100 characters on) above
# the last expression. Every "answer" phrase that states a value was read as a statement
# before the fallback runs, so the ones left state nothing ("…multiply by 100% to express the
# answer as a percentage: 32 / 96 * 100% = 33.333…%, which rounds down to 33%", GSM8K test
# row 226): the word is replaced before math-verify reads the tail, leaving its own rule,
# the last math expression or number.
_ANSWER_WORD = re.compile(r"answer", re.IGNORECASE)


def _math_verify_extraction(tail: str) -> str | None:
    """math-verify's reading of an unboxed tail, without its "answer" anchors: the rightmost math
    expression, number or plain expression (its `LatexExtractionConfig` and
    `ExprExtractionConfig`). Returns the matched text, which the grader then parses like a box."""
    if _CODE_LIKE.search(tail):  # never hand code-like text to sympy
        return None
    tail = _ANSWER_WORD.sub("result", tail)
    try:
        parsed = math_verify.parse(
            tail,
            extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
            parsing_timeout=PARSE_TIMEOUT_S,
            raise_on_error=True,
        )
    except Exception:  # noqa: BLE001 - unreadable text states no answer; a timeout (BaseException) is recorded as one
        return None
    matched = parsed[-1] if len(parsed) == 2 and isinstance(parsed[-1], str) else None
    return matched.strip() if matched and matched.strip() else None


def extract_answer_with_source(
    answer_text: str, extraction: str = DEFAULT_EXTRACTION, truncated: bool | None = None
) -> tuple[str | None, str | None]:
    """(answer, extracted_by): the answer stated last (a box, or unless strict an answer
    phrase), else (unless strict) math-verify's reading of the tail, marked `truncated_tail`
    when the generation was cut off by the length limit (`truncated`, the adapter's record)."""
    box = _last_box(answer_text)
    if extraction == "strict":
        return (box[1].strip(), EXTRACTED_BY_BOX) if box is not None else (None, None)
    offset, window = _window(answer_text)
    phrase = _last_phrase(window, offset)
    stated = _last_of(box and (box[0], box[1].strip(), EXTRACTED_BY_BOX), phrase and (*phrase, EXTRACTED_BY_FALLBACK))
    if stated is not None:
        return stated[1], stated[2]
    tail = _tail(window)
    found = _math_verify_extraction(tail) if tail is not None else None
    if found is None:
        return None, None
    return found, EXTRACTED_BY_TRUNCATED if truncated else EXTRACTED_BY_FALLBACK


def _parse(expression: str):
    """math-verify parse of a bare answer; [] when it cannot be read (math-verify or sympy
    raised: a parse failure, not a grader error). A time-out propagates (math-verify's
    TimeoutException is a BaseException) and is graded `timeout`."""
    wrapped = f"$\\boxed{{{expression}}}$"
    try:
        return math_verify.parse(
            wrapped,
            extraction_config=[LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()],
            parsing_timeout=PARSE_TIMEOUT_S,
            raise_on_error=True,
        )
    except Exception:  # noqa: BLE001 - raise_on_error is on for the time-out; any other error means unreadable
        return []


_INTEGER = re.compile(r"[-+]?\d{1,300}")
_PERCENT = re.compile(r"\\?%\s*$")
# A percent sign or word right after a number, in any position ("(50\\%)", "50\\% \\text{ discount}",
# "50 percent", "50 \\text{ percent}", "\\text{50\\%}", "50\\ \\%", "50~\\%"): dropped with the space
# before it, LaTeX's spacing commands included, so a percentage compares to its bare gold (issue
# 27). "percentage" is a noun, not a unit, and stays.
_PERCENT_WORD = r"(?i:per\s?cent)(?![A-Za-z])"
_LATEX_SPACE = r"(?:\s|~|\\[ ,;:!])*"
_PERCENT_AFTER_NUMBER = re.compile(
    rf"(?<=[\d}}]){_LATEX_SPACE}(?:\\?%|\\(?:text|mbox|mathrm)\{{\s*(?:\\?%|{_PERCENT_WORD})\s*\}}|{_PERCENT_WORD})"
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\{([^{}]*)\}")
# AMC-style "\textbf{(C)}\ 7": an option label in front of the value; the value is graded.
_OPTION_LABEL = re.compile(r"^\\text(?:bf)?\{\s*\([A-E]\)\s*\}(?:\\[ ,;:!]|~|\s)*(?=\S)")


def normalise_math_answer(answer: str) -> str:
    """Clean-up math-verify does not do for bare answers: thousands separators, percent signs
    and words, `\\text{}` wrappers, AMC option labels, trailing full stops, and repeating
    decimals (`0.\\overline{3}` → `\\frac{1}{3}`)."""
    cleaned = answer.strip().rstrip(".").strip()
    cleaned = _PERCENT_AFTER_NUMBER.sub("", cleaned)  # first: with the spacing before it
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
    gold_set, predicted_set = as_comparable_sets(gold_expr, predicted_expr)
    if gold_set is not gold_expr or predicted_set is not predicted_expr:
        return _verify([gold_set], [predicted_set])
    return _verify(gold_parsed, predicted)


def _verify(gold: list, predicted: list) -> bool:
    """math-verify's verify, the last rule: an error inside it means "not equal by any rule"
    (issue 27), never a grader error; a time-out propagates and is graded `timeout`."""
    try:
        return bool(math_verify.verify(gold, predicted, timeout_seconds=VERIFY_TIMEOUT_S, raise_on_error=True))
    except Exception:  # noqa: BLE001 - raise_on_error is on for the time-out (a BaseException)
        return False


def check_extraction_mode(extraction: str) -> None:
    """One clear error for an unknown `extraction` task option."""
    if extraction not in EXTRACTION_MODES:
        from cotbench.errors import CotbenchError

        raise CotbenchError(f"extraction={extraction!r}: expected one of {', '.join(EXTRACTION_MODES)}")


def grade_math(
    response: str,
    gold: str,
    think_end: str | None = DEFAULT_THINK_END,
    extraction: str = DEFAULT_EXTRACTION,
    truncated: bool | None = None,
) -> Verdict:
    """Verdict of a free-form math answer against its gold (math-verify equivalence).

    `truncated`: the generation stopped at the length limit (the adapter's record says so; a
    plain lm-eval model's text carries no such flag, so None). Its unstated answer is then read
    as `truncated_tail`, apart from the answers models state (see EXTRACTED_BY_TRUNCATED)."""
    check_extraction_mode(extraction)  # a bad task option is a usage error, raised before any grading
    extracted = extracted_by = None
    try:
        _thinking, answer_text, _closed = split_reasoning(response or "", think_end)
        extracted, extracted_by = extract_answer_with_source(answer_text, extraction, truncated)
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
# An option letter: uppercase anywhere, lowercase only ending its line ("answer: c"), so "the
# answer is a multiple of 3" states no option.
_LETTER = r"(?P<letter>[A-D]|[a-d](?=[.)]?[ \t]*$))"
_LETTER_PHRASES = [
    re.compile(rf"(?i:\banswer\b)\s*(?i:is\b)?\s*[:：]?\s*\**\s*\(?{_LETTER}\)?(?![A-Za-z])", re.MULTILINE),
    re.compile(rf"(?i:\b(?:option|choice)\b)\s*(?i:is\b)?\s*[:：]?\s*\(?{_LETTER}\)?(?![A-Za-z])", re.MULTILINE),
    re.compile(r"^\s*\(?(?P<letter>[A-D])\)?[.:)]?\s*$", re.MULTILINE),
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


def _last_letter_phrase(text: str, offset: int, choices) -> tuple[int, str] | None:
    """(offset + start, letter) of the last "Answer: (C)" / "option C" / lone-letter line, or of
    the last answer phrase stating an option's text ("The answer is Daoism."), or None."""
    found = [(offset + match.start(), match.group("letter").upper()) for pattern in _LETTER_PHRASES
             for match in pattern.finditer(text)]
    if choices:
        for match in _ANSWER_PHRASE.finditer(text):
            letter = _letter_of_option_text(_clean_stated(match.group("value")), choices)
            if letter:
                found.append((offset + match.start(), letter))
    return _last_of(*found)


def _choice_statement(answer_text: str, choices, extraction: str) -> tuple[str | None, str | None, str | None]:
    """(letter, extracted_by, box content): the option stated last, by box or (unless strict)
    by phrase. A last box that names no option gives no letter and its content."""
    box = _last_box(answer_text)
    offset, window = _window(answer_text)
    phrase = None if extraction == "strict" else _last_letter_phrase(window, offset, choices)
    stated = _last_of(box and (*box, EXTRACTED_BY_BOX), phrase and (*phrase, EXTRACTED_BY_FALLBACK))
    if stated is None:
        return None, None, None
    if stated[2] == EXTRACTED_BY_BOX:
        return _letter_of_box(stated[1], choices), EXTRACTED_BY_BOX, stated[1]
    return stated[1], EXTRACTED_BY_FALLBACK, None


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
        letter, extracted_by, boxed = _choice_statement(answer_text, choices, extraction)
        if letter is None:  # a last box that names no option is unreadable; nothing stated is no answer
            reason = REASON_PARSE_FAILURE if boxed is not None else REASON_NO_ANSWER
            return Verdict(False, boxed, reason, extracted_by)
        ok = letter == gold_letter.strip().upper()
        return Verdict(ok, letter, REASON_CORRECT if ok else REASON_MISMATCH, extracted_by)
    except Exception:  # noqa: BLE001
        return Verdict(False, None, REASON_ERROR)
