"""Where thinking ends: the one rule that splits a generation into its thinking and its answer,
shared by the grader, the [SKIP] statistics, the GRPO rewards and the SFT data builder.

Imports nothing of ours (like `record.py`), so every layer may use it.
"""

from __future__ import annotations

# The end-of-thinking marker of DeepSeek-R1 / Qwen3 / QwQ style models.
DEFAULT_THINK_END = "</think>"


def split_thinking(text: str, think_end: str | None = DEFAULT_THINK_END) -> tuple[str, str, bool]:
    """(thinking, answer, closed): `text` split at the *last* end-of-thinking marker.

    Why the last: a model that writes the marker twice (quoting it while thinking, or
    re-opening thinking after a first close) states its answer after the final one, and every
    independent reader takes that part as the answer:
    - lm-eval: `generation.split(think_end_token)[-1]` (lm_eval/models/utils.py,
      `postprocess_generated_text`); lighteval and OpenCompass likewise;
    - s1's lm-eval fork: `a.split("<|im_start|>answer\\n")[-1]` (eval/lm-evaluation-harness/
      lm_eval/tasks/openai_math/utils.py:266-272);
    - DEER's `check.py` grades the last `\\boxed{}` of the whole response (utils/parser.py:505,
      `pred_str.split("boxed")[-1]`);
    - the DeepSeek-R1 chat template keeps `content.split('</think>')[-1]` of an assistant turn,
      and Qwen3's model card parses at the last `</think>` id (`output_ids[::-1].index`).
    The step-entropy code splits at the first (grpo_train.py `seq.find('</think>')`,
    build_complete_thinking_dataset.py:169 `tokens.index('</think>')`, sort_step_entropy.py:41
    `split("</think>")[0]`); the two differ only when the marker appears twice, and then one
    rule for the grader, the rewards and the training data keeps them from disagreeing about
    the same text.

    Without a marker (a model that does not think, or thinking cut by the length limit) the
    thinking is empty and the whole text is the answer part, so a box written while thinking
    can still be graded; `closed` tells the two cases apart (the grader's `acc_closed` metric).
    A reader that counts thinking reads such a text with `thinking_part`. The adapters count a
    generation's thinking tokens by this split too (cot_methods/adapter/accounting.py), though
    their engines switch to the answer at the first marker.
    """
    if think_end and think_end in text:
        thinking, _, answer = text.rpartition(think_end)
        return thinking, answer, True
    return "", text, False


def thinking_part(text: str, think_end: str | None = DEFAULT_THINK_END) -> str:
    """The thinking of `text` (before the last marker, `split_thinking`), or the whole text when
    thinking never closed: a thinking model cut by the length limit was still thinking."""
    thinking, _answer, closed = split_thinking(text, think_end)
    return thinking if closed else text
