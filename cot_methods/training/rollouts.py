"""Traces a model writes for training problems: the input of step entropy's SFT data.

The official pipeline samples each trace once at T 0.6 / top-p 0.95 (staymylove/
COT_Compresstion_via_Step_entropy, run_vllm_LM.sh and build_complete_thinking_dataset.py) from
the model it then compresses and fine-tunes; so do we, with transformers' `generate` in seeded
batches, and write them as the JSONL `cotbench build-sft` reads (`problem`, `response`), with
the gold answer beside them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cotbench.harness_tasks.arith import ArithProblem

from .arith_split import prompt_text

TRACE_TEMPERATURE, TRACE_TOP_P = 0.6, 0.95  # the official trace sampling (run_vllm_LM.sh)
TRACE_MAX_TOKENS = 512  # the testbed's traces end within 400 tokens; its context is 1,024
TRACE_BATCH = 64


def sample_traces(model, tokenizer, problems: list[ArithProblem], seed: int = 0, max_new_tokens: int = TRACE_MAX_TOKENS,
                  batch_size: int = TRACE_BATCH) -> list[dict]:
    """One sampled response per problem: `{"problem", "response", "answer", "level"}`. The
    response is what the model wrote after the chat template's generation prompt (which opens
    the thinking), special tokens removed, as the harness records it."""
    import torch

    tokenizer = _left_padded(tokenizer)
    rows = []
    for start in range(0, len(problems), batch_size):
        chunk = problems[start : start + batch_size]
        prompts = [tokenizer.apply_chat_template([{"role": "user", "content": prompt_text(p)}], tokenize=False, add_generation_prompt=True)
                   for p in chunk]
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        torch.manual_seed(seed * 1_000_003 + start)  # each batch its own seed: a resumed or shorter run draws the same traces
        with torch.inference_mode():
            output = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=True, temperature=TRACE_TEMPERATURE,
                                    top_p=TRACE_TOP_P, pad_token_id=tokenizer.pad_token_id)
        for problem, ids in zip(chunk, output[:, encoded["input_ids"].shape[1] :]):
            rows.append({"problem": prompt_text(problem), "response": tokenizer.decode(ids, skip_special_tokens=True),
                         "answer": str(problem.answer), "level": problem.level})
    return rows


def write_jsonl(rows: list[dict], path: str | Path) -> Path:
    """Write rows atomically (a killed run leaves no half file)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _left_padded(tokenizer):
    """A copy that pads on the left, as batched generation needs (the caller's stays as it is)."""
    import copy

    if tokenizer.padding_side == "left":
        return tokenizer
    padded = copy.deepcopy(tokenizer)
    padded.padding_side = "left"
    return padded
