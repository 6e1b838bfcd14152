"""Compressed-CoT SFT data (arXiv 2508.03346 §5.1), built as the official pipeline builds it
(staymylove/COT_Compresstion_via_Step_entropy, build_masking_thinking_dataset.py and the SFT
stage): from generated traces, replace the ⌊κ·N⌋ lowest step-entropy steps of the thinking with
[SKIP], **regenerate the answer** from the compressed thinking, and write (problem, compressed
thinking + answer) pairs as TRL SFTTrainer's prompt/completion *text* (not messages):

    {"prompt": "<chat-templated problem, generation prompt included>",
     "completion": "<compressed thinking>\\n</think>\\n\\n<answer>"}

Why text and not messages: DeepSeek-R1's chat template keeps only what follows the last
</think> of an assistant turn (`content.split('</think>')[-1]`, tokenizer_config.json of
DeepSeek-R1 and its R1-Distill models; Qwen3's drops the thinking of earlier turns too). A
conversational completion would be templated by SFTTrainer and train an R1-Distill model on the
answer alone, its compressed thinking deleted. As text, SFTTrainer tokenises prompt + completion
as written and trains on the completion (`completion_only_loss`, its default for this format),
adding the end-of-sequence token as the template's assistant turn does. The prompt is rendered
with the chat template of the model to be fine-tuned (`chat_tokenizer`; by default the scoring
model's, as the official pipeline scores and fine-tunes one model, DeepSeek-R1-Distill-Qwen-7B),
so it ends where that model starts thinking (R1: "<｜Assistant｜><think>\\n"); a "<think>" the
trace itself opens with stays in front of the compressed thinking.

Each official step is an option whose default is the paper's:
- `answer="regenerate"`: the answer is generated after prompt + compressed thinking +
  "\\n</think>\\n\\n" (official: vLLM completions at T 0.6 / top-p 0.95, 32,768 tokens;
  `AnswerRegenerator`, or any callable `(prompt_text, continuation) -> answer`). `answer="copy"`
  keeps the full trace's answer, which was conditioned on thinking the model no longer sees.
- `skip_special_token=True`: "[SKIP]" (and <think>, </think> when missing) are added to the
  tokenizer as special tokens, as the official GRPO stage does (grpo_train.py:79, 457-467), so
  [SKIP] is one token; the length filter counts with such a tokenizer (a copy: the scoring
  model, which regenerates the answer, reads "[SKIP]" as text, as the official vLLM server
  does); `add_skip_tokens` does the same for the training tokenizer and model.
- `max_tokens=4096`: examples longer than 4,096 tokens (prompt + completion as SFTTrainer
  tokenises them) are dropped, the paper's stated filter. The released `stage1_sft_training/
  sft.py:28` instead *truncates* every example at 2,048 tokens (`truncation=True,
  max_length=2048`): to train that way, build with `max_tokens=None` and train with
  `SFTConfig(max_length=OFFICIAL_SFT_MAX_LENGTH)` (TRL keeps the start, as the tokenizer did).
- `step_split="text"`: steps at every "\\n\\n" of the text, rejoined with "\\n\\n";
  `"token"` is the released code's rule (signals/steps.py).

Inputs: lm-eval sample files (`samples_*.jsonl` from `--log_samples`; problem from the doc,
response from the first generation) or JSONL rows with `problem` and `response`. Token
entropies come from ONE teacher-forced pass of the scoring model over prompt + thinking. The
thinking is the text before the *last* </think> (cotbench/thinking.py, the grader's split). A
trace whose thinking never closed, or holds no step, is skipped with one line naming its file
and line.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from cotbench.errors import CotbenchError
from cotbench.harness_tasks.grading import DEFAULT_THINK_END

from ...thinking import split_thinking
from ..signals.steps import (
    DEFAULT_SKIP_RATIO,
    DEFAULT_STEP_SPLIT,
    SKIP_TOKEN,
    STEP_SPLITS,
    compress_thinking,
    score_thinking_steps,
    steps_to_skip,
)

ANSWER_SOURCES = ("regenerate", "copy")
CLOSE_TEXT = "\n</think>\n\n"  # official: compressed thinking + "\n</think>\n\n", then the answer (build_masking_thinking_dataset.py:52)
MAX_SFT_TOKENS = 4096  # the paper's text: longer examples are dropped (our default)
OFFICIAL_SFT_MAX_LENGTH = 2048  # stage1_sft_training/sft.py:28: every example truncated at 2,048 tokens
ANSWER_TEMPERATURE, ANSWER_TOP_P, ANSWER_MAX_TOKENS = 0.6, 0.95, 32768  # official answer request (build_masking_thinking_dataset.py:57-63)
THINK_START = "<think>"  # the opening marker a trace may begin with (Qwen3 writes it; R1's template opens it in the prompt)
_OPENING = re.compile(r"\s*" + re.escape(THINK_START) + r"\n*")


class UnusableTrace(CotbenchError):
    """A trace that cannot become an SFT example: the message says why."""


def add_skip_tokens(tokenizer, model=None, think_end: str = DEFAULT_THINK_END) -> int:
    """Add [SKIP] (and <think>/</think> when missing) as special tokens; resize the model's
    embeddings when given. Returns how many tokens were added."""
    vocabulary = tokenizer.get_vocab()
    missing = [t for t in (SKIP_TOKEN, THINK_START, think_end) if t not in vocabulary]
    added = tokenizer.add_special_tokens({"additional_special_tokens": missing}) if missing else 0
    if added and model is not None:
        model.resize_token_embeddings(len(tokenizer))
    return added


class AnswerRegenerator:
    """The official answer step: generate after prompt + compressed thinking + close text
    (T 0.6, top-p 0.95, up to 32,768 tokens), with transformers' `generate`."""

    def __init__(self, model, tokenizer, temperature: float = ANSWER_TEMPERATURE, top_p: float = ANSWER_TOP_P,
                 max_new_tokens: int = ANSWER_MAX_TOKENS, seed: int = 0):
        self.model, self.tokenizer = model, tokenizer
        self.temperature, self.top_p, self.max_new_tokens, self.seed = temperature, top_p, max_new_tokens, seed

    def __call__(self, prompt_text: str, continuation: str) -> str:
        import torch

        ids = self.tokenizer(prompt_text + continuation, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        torch.manual_seed(self.seed)
        sampling = {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p} if self.temperature > 0 else {"do_sample": False}
        with torch.inference_mode():
            out = self.model.generate(**ids, max_new_tokens=self.max_new_tokens, pad_token_id=self.tokenizer.eos_token_id, **sampling)
        return self.tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)


def read_traces(path: str | Path) -> list[dict]:
    """(problem, response, line) rows from an lm-eval samples file or a plain JSONL."""
    rows = []
    path = Path(path)
    if not path.is_file():
        raise CotbenchError(f"trace file not found: {path}")
    expected = "expected an lm-eval sample (doc.problem, resps[0][0]) or an object with 'problem' and 'response'"
    for number, line in enumerate(path.open(encoding="utf-8"), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            raise CotbenchError(f"{path}:{number}: malformed JSON line") from None
        problem = response = None
        if isinstance(raw, dict) and "resps" in raw and "doc" in raw:  # lm-eval sample record
            try:
                problem, response = raw["doc"].get("problem"), raw["resps"][0][0]
            except (AttributeError, IndexError, KeyError, TypeError):
                pass
        elif isinstance(raw, dict):
            problem, response = raw.get("problem"), raw.get("response")
        if not isinstance(problem, str) or not isinstance(response, str):
            raise CotbenchError(f"{path}:{number}: {expected}")
        rows.append({"problem": problem, "response": response, "line": number})
    return rows


def _prompt_text(tokenizer, problem: str) -> str:
    """The problem as the scoring model reads it: chat-templated, generation prompt included."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": problem}], tokenize=False, add_generation_prompt=True)
    return problem


def _adds_bos(tokenizer) -> bool:
    """Whether the tokenizer puts BOS in front of plain text itself (R1-Distill's Llama-style
    tokenizers do; Qwen's do not)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    with_special = tokenizer(text="a")["input_ids"]
    return bool(with_special) and with_special[0] == bos and tokenizer(text="a", add_special_tokens=False)["input_ids"][:1] != [bos]


def sft_prompt_text(tokenizer, problem: str) -> str:
    """The SFT prompt: the problem through the chat template of the model to be fine-tuned,
    generation prompt included. SFTTrainer tokenises text prompts with the tokenizer's special
    tokens, so a BOS the template writes is left out when the tokenizer adds its own (one BOS,
    as at inference)."""
    text = _prompt_text(tokenizer, problem)
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos) and _adds_bos(tokenizer):
        text = text[len(bos) :]
    return text


def trained_text(tokenizer, example: dict) -> str:
    """What SFTTrainer tokenises for a prompt/completion text example: prompt + completion + the
    end-of-sequence token it appends when the completion lacks it (TRL 1.x `add_eos`)."""
    eos = getattr(tokenizer, "eos_token", None) or ""
    completion = example["completion"]
    return example["prompt"] + (completion if completion.endswith(eos) else completion + eos)


def example_tokens(tokenizer, example: dict) -> int:
    """Length of an SFT example as the trainer sees it (`trained_text`, special tokens included)."""
    return len(tokenizer(text=trained_text(tokenizer, example))["input_ids"])


def _split_opening(thinking: str) -> tuple[str, str]:
    """("<think>\\n", the rest) when the thinking opens with the marker itself, else ("", thinking):
    the opening is kept in front of the compressed thinking, never pruned as part of a step."""
    match = _OPENING.match(thinking)
    return (match.group(0), thinking[match.end() :]) if match else ("", thinking)


def compress_trace(model, tokenizer, problem: str, response: str, skip_ratio: float = DEFAULT_SKIP_RATIO, score: str = "mean",
                   think_end: str = DEFAULT_THINK_END, answer: str = "regenerate",
                   regenerate: Callable[[str, str], str] | None = None, step_split: str = DEFAULT_STEP_SPLIT,
                   chat_tokenizer=None) -> dict:
    """One SFT example (`{"prompt": text, "completion": text}`); `UnusableTrace` when the
    response's thinking never closed or holds no step."""
    if answer not in ANSWER_SOURCES:
        raise CotbenchError(f"answer={answer!r} is invalid (expected regenerate or copy)")
    if step_split not in STEP_SPLITS:
        raise CotbenchError(f"step_split={step_split!r} is invalid (expected {' or '.join(STEP_SPLITS)})")
    thinking, full_answer, closed = split_thinking(response, think_end)
    if not closed:
        raise UnusableTrace(f"no {think_end} in the response: its thinking never closed (expected thinking, {think_end}, answer)")
    opening, thinking = _split_opening(thinking)
    prompt_text = _prompt_text(tokenizer, problem)
    context = tokenizer.encode(prompt_text + opening, add_special_tokens=False)
    decoded, steps, scores = score_thinking_steps(model, tokenizer, context, thinking, score, step_split)
    if not steps:
        raise UnusableTrace(f"the thinking before {think_end} is empty or whitespace: no step to compress")
    skipped = steps_to_skip(scores, skip_ratio)
    compressed = opening + compress_thinking(decoded, steps, skipped, step_split)
    if answer == "copy":
        completion = f"{compressed}{think_end}{full_answer}"
    else:
        close = CLOSE_TEXT.replace(DEFAULT_THINK_END, think_end)
        generate = regenerate or AnswerRegenerator(model, tokenizer)
        completion = f"{compressed}{close}{generate(prompt_text, compressed + close)}"
    return {"prompt": sft_prompt_text(chat_tokenizer or tokenizer, problem), "completion": completion}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def build_sft_dataset(model, tokenizer, inputs: list[str], output: str, skip_ratio: float = DEFAULT_SKIP_RATIO, score: str = "mean",
                      answer: str = "regenerate", regenerate: Callable[[str, str], str] | None = None,
                      skip_special_token: bool = True, max_tokens: int | None = MAX_SFT_TOKENS,
                      step_split: str = DEFAULT_STEP_SPLIT, chat_tokenizer=None, log: Callable[[str], None] = _stderr) -> int:
    """Write the SFT JSONL (atomically); returns the number of examples written.

    `chat_tokenizer`: the tokenizer of the model to be fine-tuned (its chat template renders the
    prompt, its vocabulary counts lengths); default the scoring model's. `log` gets one line per
    trace skipped ("file:line: skipped: why") and one for the examples over `max_tokens`."""
    import copy
    import os

    if max_tokens is not None and max_tokens < 1:
        raise CotbenchError(f"max_tokens={max_tokens!r} is invalid (expected a positive number of tokens, or None)")
    counting = chat_tokenizer or tokenizer
    if skip_special_token:  # count lengths as the trainer will: [SKIP] one special token
        counting = copy.deepcopy(counting)  # the scoring model's own tokenizer stays as it is
        add_skip_tokens(counting)
    if answer == "regenerate" and regenerate is None:
        regenerate = AnswerRegenerator(model, tokenizer)
    examples, too_long = [], 0
    for path in inputs:
        for row in read_traces(path):
            try:
                example = compress_trace(model, tokenizer, row["problem"], row["response"], skip_ratio, score, answer=answer,
                                         regenerate=regenerate, step_split=step_split, chat_tokenizer=chat_tokenizer)
            except UnusableTrace as why:
                log(f"{path}:{row['line']}: skipped: {why}")
                continue
            if max_tokens is not None and example_tokens(counting, example) > max_tokens:
                too_long += 1
                continue
            examples.append(example)
    if too_long:
        log(f"{too_long} example(s) over max_tokens={max_tokens} tokens dropped")
    tmp = f"{output}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example, ensure_ascii=False) + "\n")
    os.replace(tmp, output)
    return len(examples)
