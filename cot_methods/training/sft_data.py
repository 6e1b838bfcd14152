"""Compressed-CoT SFT data (arXiv 2508.03346 §5.1), built as the official pipeline builds it
(staymylove/COT_Compresstion_via_Step_entropy, build_masking_thinking_dataset.py and the SFT
stage): from generated traces, replace the ⌊κ·N⌋ lowest step-entropy steps of the thinking with
[SKIP], **regenerate the answer** from the compressed thinking, and write (problem, compressed
thinking + answer) pairs in TRL SFTTrainer's conversational prompt/completion format:

    {"prompt": [{"role": "user", "content": problem}],
     "completion": [{"role": "assistant", "content": "<compressed thinking>\\n</think>\\n\\n<answer>"}]}

Each official step is an option whose default is the paper's:
- `answer="regenerate"`: the answer is generated after prompt + compressed thinking +
  "\\n</think>\\n\\n" (official: vLLM completions at T 0.6 / top-p 0.95, 32,768 tokens;
  `AnswerRegenerator`, or any callable `(prompt_text, continuation) -> answer`). `answer="copy"`
  keeps the full trace's answer, which was conditioned on thinking the model no longer sees.
- `skip_special_token=True`: "[SKIP]" (and <think>, </think> when missing) are added to the
  tokenizer as special tokens, as the official training does, so [SKIP] is one token; the
  length filter counts with such a tokenizer (a copy: the scoring model, which regenerates the
  answer, reads "[SKIP]" as text, as the official vLLM server does); `add_skip_tokens` does the
  same for the training tokenizer and model.
- `max_tokens=4096`: examples longer than 4,096 tokens (chat-templated prompt + completion)
  are dropped (official max sequence length); None keeps every example.

Inputs: lm-eval sample files (`samples_*.jsonl` from `--log_samples`; problem from the doc,
response from the first generation) or JSONL rows with `problem` and `response`. Token
entropies come from ONE teacher-forced pass of the scoring model over prompt + thinking.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cotbench.errors import CotbenchError
from cotbench.harness_tasks.grading import DEFAULT_THINK_END

from ..signals.steps import DEFAULT_SKIP_RATIO, SKIP_TOKEN, compress_thinking, score_thinking_steps, steps_to_skip

ANSWER_SOURCES = ("regenerate", "copy")
CLOSE_TEXT = "\n</think>\n\n"  # official: compressed thinking + "\n</think>\n\n", then the answer
MAX_SFT_TOKENS = 4096  # official SFT max sequence length: longer examples are dropped
ANSWER_TEMPERATURE, ANSWER_TOP_P, ANSWER_MAX_TOKENS = 0.6, 0.95, 32768  # official answer request


def add_skip_tokens(tokenizer, model=None, think_end: str = DEFAULT_THINK_END) -> int:
    """Add [SKIP] (and <think>/</think> when missing) as special tokens; resize the model's
    embeddings when given. Returns how many tokens were added."""
    vocabulary = tokenizer.get_vocab()
    missing = [t for t in (SKIP_TOKEN, "<think>", think_end) if t not in vocabulary]
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
    """(problem, response) pairs from an lm-eval samples file or a plain JSONL."""
    rows = []
    path = Path(path)
    if not path.is_file():
        raise CotbenchError(f"trace file not found: {path}")
    for number, line in enumerate(path.open(encoding="utf-8"), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            raise CotbenchError(f"{path}:{number}: malformed JSON line") from None
        if "resps" in raw and "doc" in raw:  # lm-eval sample record
            problem, response = raw["doc"].get("problem"), raw["resps"][0][0]
        else:
            problem, response = raw.get("problem"), raw.get("response")
        if not isinstance(problem, str) or not isinstance(response, str):
            raise CotbenchError(f"{path}:{number}: expected an lm-eval sample or an object with 'problem' and 'response'")
        rows.append({"problem": problem, "response": response})
    return rows


def _prompt_text(tokenizer, problem: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": problem}], tokenize=False, add_generation_prompt=True)
    return problem


def example_tokens(tokenizer, example: dict) -> int:
    """Length of an SFT example as the trainer sees it: chat-templated prompt + completion."""
    prompt = _prompt_text(tokenizer, example["prompt"][0]["content"])
    return len(tokenizer.encode(prompt + example["completion"][0]["content"], add_special_tokens=False))


def compress_trace(model, tokenizer, problem: str, response: str, skip_ratio: float = DEFAULT_SKIP_RATIO, score: str = "mean",
                   think_end: str = DEFAULT_THINK_END, answer: str = "regenerate",
                   regenerate: Callable[[str, str], str] | None = None) -> dict | None:
    """One SFT example, or None when the response has no closed thinking to compress."""
    if answer not in ANSWER_SOURCES:
        raise CotbenchError(f"answer={answer!r} is invalid (expected regenerate or copy)")
    if think_end not in response:
        return None
    thinking, full_answer = response.split(think_end, 1)
    prompt_text = _prompt_text(tokenizer, problem)
    context = tokenizer.encode(prompt_text, add_special_tokens=False)
    decoded, steps, scores = score_thinking_steps(model, tokenizer, context, thinking, score)
    skipped = steps_to_skip(scores, skip_ratio)
    compressed = compress_thinking(decoded, steps, skipped)
    if answer == "copy":
        content = f"{compressed}{think_end}{full_answer}"
    else:
        close = CLOSE_TEXT.replace(DEFAULT_THINK_END, think_end)
        generate = regenerate or AnswerRegenerator(model, tokenizer)
        content = f"{compressed}{close}{generate(prompt_text, compressed + close)}"
    return {
        "prompt": [{"role": "user", "content": problem}],
        "completion": [{"role": "assistant", "content": content}],
    }


def build_sft_dataset(model, tokenizer, inputs: list[str], output: str, skip_ratio: float = DEFAULT_SKIP_RATIO, score: str = "mean",
                      answer: str = "regenerate", regenerate: Callable[[str, str], str] | None = None,
                      skip_special_token: bool = True, max_tokens: int | None = MAX_SFT_TOKENS) -> int:
    """Write the SFT JSONL (atomically); returns the number of examples written."""
    import copy
    import os

    if max_tokens is not None and max_tokens < 1:
        raise CotbenchError(f"max_tokens={max_tokens!r} is invalid (expected a positive number of tokens, or None)")
    counting = tokenizer
    if skip_special_token:  # count lengths as the trainer will: [SKIP] one special token
        counting = copy.deepcopy(tokenizer)  # the scoring model's own tokenizer stays as it is
        add_skip_tokens(counting)
    if answer == "regenerate" and regenerate is None:
        regenerate = AnswerRegenerator(model, tokenizer)
    examples = []
    for path in inputs:
        for row in read_traces(path):
            example = compress_trace(model, tokenizer, row["problem"], row["response"], skip_ratio, score, answer=answer, regenerate=regenerate)
            if example is None or (max_tokens is not None and example_tokens(counting, example) > max_tokens):
                continue
            examples.append(example)
    tmp = f"{output}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example, ensure_ascii=False) + "\n")
    os.replace(tmp, output)
    return len(examples)
