"""Thinking tokens of a generation, counted by the grader's split.

The engines switch a row to its answer at the *first* end-of-thinking marker: they cannot know
that another will follow. The grader, the rewards and a plain model's token counts split at the
*last* (`cotbench/thinking.py`, which says why). When a generation writes the marker twice, the
tokens between the two were decoded as answer but are graded as thinking; counting them as
answer would make one text's thinking shorter under a cotbench adapter than under lm-eval's own
model (`harness_tasks/token_counts.py`), and a method that reopens thinking look cheaper.
"""

from __future__ import annotations

from ..signals.steps import token_char_spans


def thinking_through_last_marker(tokenizer, token_ids: list[int], text: str, think_end: str, counted: int) -> int:
    """`counted` (the engine's thinking tokens), or, when `text` (the decoded `token_ids`) holds
    `think_end` more than once, every token up to and including the last marker."""
    if not think_end or text.count(think_end) < 2:
        return counted
    end = text.rindex(think_end) + len(think_end)
    through = sum(1 for start, _end in token_char_spans(tokenizer, token_ids) if start < end)
    return max(counted, through)
