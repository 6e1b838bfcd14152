"""Overthinking: the first thinking step that states the right answer, and how much thinking follows it.

EvalScope's ThinkBench (modelscope/evalscope, docs/en/best_practice/think_eval.md) splits the
thinking into steps at "\\n\\n" (its `separator` strategy) and asks a judge model for the first
position recognised as the correct answer; its "first correct tokens" run from the start of the
thinking to there. We ask our own grader instead of a judge model: after each step, the answer
stated so far (the step's last `\\boxed{…}`, else its "the answer is …" phrase: the grader's own
readings, never the last number of a calculation) is graded against the gold exactly as a probe's
answer is (`grading.grade_probe`'s rule). The first step whose stated answer is right is the first
correct step; the thinking after it is the overthinking share. Math tasks only: a letter stated
in passing is no evidence of a solved multiple-choice problem.

Positions are in tokens when the tokenizer the model arguments name loads (the thinking re-encoded),
else in characters; the record says which. `first_correct_tokens` scales that share to the
record's own thinking-token count, so it adds up with the adapter's accounting.
"""

from __future__ import annotations

from dataclasses import dataclass

from .grading import _last_box, _last_of, _last_phrase, grade_math
from .token_counts import encoded_length

STEP_END = "\n\n"  # ThinkBench's `separator` strategy; also the step unit of every method here


@dataclass(frozen=True)
class FirstCorrect:
    step: int | None  # 1-based index of the first step whose stated answer is right; None: never
    steps: int  # thinking steps
    end: int | None  # characters of thinking up to the end of that step


def stated_answer(step: str) -> str | None:
    """What a step states as its answer: its last box or "the answer is …" phrase, whichever comes
    last (the grader's rule, issue 27)."""
    found = _last_of(_last_box(step), _last_phrase(step))
    return found[1].strip() if found else None


def first_correct_step(thinking: str, gold: str) -> FirstCorrect:
    steps = thinking.split(STEP_END)
    verdicts: dict[str, bool] = {}  # each distinct answer is graded once
    end = 0
    for number, step in enumerate(steps, start=1):
        end += len(step)
        answer = stated_answer(step)
        if answer is not None:
            if answer not in verdicts:
                verdicts[answer] = grade_math("\\boxed{" + answer + "}", gold, think_end=None).correct
            if verdicts[answer]:
                return FirstCorrect(number, len(steps), end)
        end += len(STEP_END)
    return FirstCorrect(None, len(steps), None)


def overthinking_fields(thinking: str, gold: str, thinking_tokens: int | None, tokenizer) -> dict:
    """The record's overthinking fields for one generation's thinking text."""
    found = first_correct_step(thinking, gold)
    out = {"thinking_steps": found.steps, "first_correct_step": found.step, "first_correct_tokens": None,
           "overthinking_share": None, "overthinking_unit": None}
    if found.step is None or not thinking:
        return out
    if tokenizer is not None:
        before, total, unit = encoded_length(tokenizer, thinking[: found.end]), encoded_length(tokenizer, thinking), "tokens"
    else:
        before, total, unit = found.end, len(thinking), "characters"
    share_before = min(before / total, 1.0) if total else 1.0
    out.update(overthinking_share=1.0 - share_before, overthinking_unit=unit,
               first_correct_tokens=round(share_before * thinking_tokens) if thinking_tokens is not None else None)
    return out
