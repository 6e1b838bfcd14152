"""`cotbench-stepentropy`: post-hoc step-entropy pruning (arXiv 2508.03346, the paper's
inference-time experiment; docs/METHODS.md §4.2).

1. Generate the full thinking (the engine records each token's full-vocabulary entropy and
   probability from the logits it already has — no extra pass).
2. Split it into steps at "\\n\\n" (`step_split=text`, the paper's description, rejoined with
   "\\n\\n"; `step_split=token`, the released code's rule: a token that is exactly "\\n\\n",
   steps rejoined with nothing between them; see steps.py), score each step
   (`score=mean|sum|sampled_plogp`), and replace the ⌊κ·N⌋ lowest-scoring steps with "[SKIP]"
   (κ = 0.8). `selection=random|high` are the paper's controls.
3. Close thinking after the compressed thought and regenerate the answer from it.

This saves no compute at inference: the full thinking is generated first. The record keeps
thinking tokens before (`thinking_tokens_full`) and after (`thinking_tokens`, the compressed
thought the answer is conditioned on, which is what the paper reports), the skip ratio, and
`generated_tokens` — every token actually decoded (full thinking + the regenerated answer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from lm_eval.api.registry import register_model

from ...thinking import thinking_part
from ..adapter.args import require
from ..adapter.base import CotbenchLM
from ..adapter.protocol import Protocol
from ..loop.row import ANSWER, THINKING, RowResult
from ..policy import ThinkingPolicy
from ..signals.steps import (
    DEFAULT_SKIP_RATIO,
    DEFAULT_STEP_SPLIT,
    SELECTIONS,
    STEP_SCORES,
    STEP_SPLITS,
    assign_tokens_to_steps,
    compress_thinking,
    score_steps,
    steps_to_skip,
    thinking_steps,
    token_char_spans,
)


@dataclass
class StepEntropyArgs:
    skip_ratio: float = DEFAULT_SKIP_RATIO  # κ (paper; code --mask_ratio 0.8)
    score: str = "mean"  # mean (paper v2, default) | sum (paper v1) | sampled_plogp (official code)
    selection: str = "low"  # low (the method) | random | high (the paper's controls)
    step_split: str = DEFAULT_STEP_SPLIT  # text (paper's description) | token (official build_complete_thinking_dataset.py:75)

    def validate(self, method: str) -> None:
        require(0 <= self.skip_ratio <= 1, method, "skip_ratio", self.skip_ratio, "a ratio in [0, 1]")
        require(self.score in STEP_SCORES, method, "score", self.score, " | ".join(STEP_SCORES))
        require(self.selection in SELECTIONS, method, "selection", self.selection, " | ".join(SELECTIONS))
        require(self.step_split in STEP_SPLITS, method, "step_split", self.step_split, " | ".join(STEP_SPLITS))


# The paper's static-pruning experiment: the full CoT and the regenerated answer both at
# T 0.6 / top-p 0.95 with 32,768 tokens (official vLLM requests), κ = 0.8, mean step entropy (v2).
PAPER_PROTOCOL = Protocol(
    source="arXiv 2508.03346 §4 (v2); staymylove/COT_Compresstion_via_Step_entropy inference scripts",
    decoding={"temperature": 0.6, "top_p": 0.95, "do_sample": True, "max_gen_toks": 32768},
    method_args={"skip_ratio": DEFAULT_SKIP_RATIO, "score": "mean", "selection": "low"},
)


@register_model("cotbench-stepentropy")
class StepEntropyLM(CotbenchLM):
    method_name = "stepentropy"
    MethodArgs = StepEntropyArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL
    saves_compute = False  # post-hoc: the full thinking is generated first
    segment_support = None
    segment_unsupported_reason = "post-hoc step entropy needs every thinking token's full-vocabulary entropy"

    def run_batch(self, prompts, settings, seeds):
        engine, tokenizer = self.runner.engine, self.tokenizer  # backend=hf: segment backends refuse this method
        began = time.perf_counter()
        full = engine.run(prompts, replace(settings, record_token_stats=True), ThinkingPolicy(), row_seeds=seeds)
        pruned, continuations = [], []
        for prompt, result, seed in zip(prompts, full, seeds):
            n_thinking = result.kinds.count("thinking")
            thinking_ids = result.token_ids[:n_thinking]
            # The thinking before the end-of-thinking marker (the one split rule, cotbench/thinking.py).
            thinking_text = thinking_part(engine.decode(thinking_ids), settings.think_end)
            spans = token_char_spans(tokenizer, thinking_ids)
            steps = thinking_steps(thinking_text, spans, self.method_args.step_split)
            owners = assign_tokens_to_steps(spans, steps)
            scores = score_steps(owners, result.token_entropies[:n_thinking], result.token_probs[:n_thinking], len(steps), self.method_args.score)
            skipped = steps_to_skip(scores, self.method_args.skip_ratio, self.method_args.selection, seed)
            compressed = compress_thinking(thinking_text, steps, skipped, self.method_args.step_split)
            continuation = engine.encode(compressed + settings.close_text)
            continuations.append(continuation)
            pruned.append({"steps": len(steps), "skipped": sorted(skipped), "step_scores": [round(x, 5) for x in scores],
                           "thinking_tokens_full": n_thinking, "compressed": compressed})
        answer_budget = settings.answer_budget or settings.max_new_tokens
        answers = engine.run([p + c for p, c in zip(prompts, continuations)], replace(settings, max_new_tokens=answer_budget),
                             ThinkingPolicy(), row_seeds=seeds)
        wall = time.perf_counter() - began
        texts = []
        for info, continuation, result, answer, prompt in zip(pruned, continuations, full, answers, prompts):
            thinking_after = len(engine.encode(info["compressed"]))
            # What the answer was conditioned on and what it wrote: the compressed thought (thinking),
            # then its close and the regenerated answer (answer), recorded like every generation.
            written = RowResult(
                token_ids=continuation + answer.token_ids,
                kinds=[THINKING] * thinking_after + [ANSWER] * (len(continuation) - thinking_after + len(answer.token_ids)),
                finish_reason=answer.finish_reason, probe_tokens=0, probes=[], cut_position=None, cut_reason=None, closed_by="method",
            )
            method_fields = {
                "thinking_tokens_full": info["thinking_tokens_full"],
                # the paper's metric: thinking tokens of the compressed vs the full thought
                "thinking_token_reduction": (1 - thinking_after / info["thinking_tokens_full"]) if info["thinking_tokens_full"] else 0.0,
                "generated_tokens": len(result.token_ids) + len(answer.token_ids),
                "steps": info["steps"],
                "skipped_steps": info["skipped"],
                "skip_ratio": len(info["skipped"]) / info["steps"] if info["steps"] else 0.0,
                "step_scores": info["step_scores"],
            }
            text = info["compressed"] + settings.close_text + engine.decode(answer.token_ids)
            texts.append(self.generation_text(written, text, settings, wall, len(prompts), prompt, method_fields))
        return texts
