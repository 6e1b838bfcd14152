"""Token counts for a generation no cotbench adapter counted, so that any lm-eval run can be a baseline.

A plain `--model hf`, `vllm` or `local-chat-completions` run returns text only. We count it with
the model's tokenizer, named the way lm-eval's own tasks find one in the model arguments it passes
them as metadata (`tokenizer`, then `pretrained`, then `model`: lm-eval's RULER tasks,
`lm_eval/tasks/ruler/common_utils.py`). The split is the grader's (`cotbench/thinking.py`, as the adapters' accounting in
`cot_methods/adapter/base.py`): the thinking runs up to and including the last end-of-thinking
marker, the answer is the rest; without a marker everything is thinking if the model's chat template
knows the marker (a trace cut by the length limit), else everything is answer. These are counts of
the decoded text re-encoded, not of the ids the model sampled, so the record says so
(`token_source`); an adapter's own counts are `token_source: adapter`.
"""

from __future__ import annotations

import functools
import logging

from cotbench.record import GenerationRecord
from cotbench.thinking import split_thinking

# Model-argument keys that name a tokenizer, in lm-eval's order of preference.
TOKENIZER_KEYS = ("tokenizer", "pretrained", "model")

log = logging.getLogger("cotbench")


def tokenizer_name(model_args: dict) -> str | None:
    """The tokenizer a run's model arguments name (None when they name none)."""
    return next((str(model_args[key]) for key in TOKENIZER_KEYS if model_args.get(key)), None)


@functools.cache
def load_tokenizer(name: str, warn: bool = True):
    """The tokenizer, loaded once per process; None when it cannot be loaded (one warning when the
    counts depend on it: a plain model's run; an adapter's run counts its own tokens)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except Exception as error:  # a served model's name that is no tokenizer, no network, …
        if warn:
            log.warning("cotbench: no token counts: tokenizer %r did not load (%s: %s); name one with --model_args tokenizer=<hub id or folder>",
                        name, type(error).__name__, str(error).splitlines()[0] if str(error) else "")
        return None


def counted(record: GenerationRecord, text: str, name: str | None, think_end: str) -> GenerationRecord:
    """`record` with thinking / answer / total tokens of `text` counted by tokenizer `name`
    (unchanged when there is no tokenizer to count with)."""
    tokenizer = load_tokenizer(name) if name else None
    if tokenizer is None:
        return record
    total = encoded_length(tokenizer, text)
    before, _answer, closed = split_thinking(text, think_end)  # the grader's split (cotbench/thinking.py)
    if closed:
        thinking = encoded_length(tokenizer, before + think_end)  # the marker counts as thinking
    else:
        thinking = total if think_end in str(getattr(tokenizer, "chat_template", None) or "") else 0
    thinking = min(thinking, total)  # a merge across the cut can make the prefix one token longer
    record.thinking_tokens, record.answer_tokens, record.probe_tokens, record.total_tokens = thinking, total - thinking, 0, total
    record.think_end, record.token_source = think_end, f"tokenizer {name}"
    return record


def encoded_length(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])
