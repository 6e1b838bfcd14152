"""`cotbench-skip`: evaluate checkpoints trained to write "[SKIP]" for steps they omit (the
step-entropy paper's SFT + GRPO models, arXiv 2508.03346 §5). Plain decoding; each record
adds the [SKIP] count and the skip ratio as the official GRPO reward computes them."""

from __future__ import annotations

from lm_eval.api.registry import register_model

from ...thinking import thinking_part
from ..adapter.base import CotbenchLM
from ..adapter.protocol import Protocol
from ..signals.steps import skip_statistics


@register_model("cotbench-skip")
class SkipLM(CotbenchLM):
    method_name = "skip"
    # The step-entropy paper decodes its models at T 0.6 / top-p 0.95 (docs/METHODS.md §4.2-4.3).
    PAPER_PROTOCOL = Protocol(
        source="arXiv 2508.03346; official evaluation requests (T 0.6, top-p 0.95, 32,768 tokens)",
        decoding={"temperature": 0.6, "top_p": 0.95, "do_sample": True, "max_gen_toks": 32768},
    )

    def annotate(self, record, result, prompt_ids, text):
        # The thinking up to the last end-of-thinking marker, the grader's split (cotbench/thinking.py).
        record.method_fields.update(skip_statistics(thinking_part(text, self.engine_args.think_end)))
