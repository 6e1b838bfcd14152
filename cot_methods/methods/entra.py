"""`cotbench-entra`: evaluate an ENTRA checkpoint (arXiv 2601.07123) with plain decoding; with
`analysis=true` every record also gets a BIE importance summary and the redundancy score of
its response (bie.py), computed in one extra teacher-forced pass with chunked attention."""

from __future__ import annotations

from dataclasses import dataclass

from lm_eval.api.registry import register_model

from ..adapter.args import require
from ..adapter.base import CotbenchLM
from ..adapter.protocol import Protocol
from ..signals.bie import (
    ATTENTION_CHUNK,
    DEFAULT_LAMBDA,
    DEFAULT_TOP_FRACTION,
    REDUNDANCY_READINGS,
    bidirectional_importance,
    low_importance_mask,
    redundancy_score,
)


@dataclass
class EntraArgs:
    analysis: bool = False  # add BIE and the redundancy score to each record
    bie_lambda: float = DEFAULT_LAMBDA  # λ; the seed uses 2 for MATH
    top_fraction: float = DEFAULT_TOP_FRACTION  # most important share excluded
    redundancy: str = "type_entropy"  # type_entropy (default) | next_token_entropy
    attention_chunk: int = ATTENTION_CHUNK  # queries per chunk of the attention recomputation

    def validate(self, method: str) -> None:
        require(self.bie_lambda >= 0, method, "bie_lambda", self.bie_lambda, "a number >= 0")
        require(0 <= self.top_fraction < 1, method, "top_fraction", self.top_fraction, "a fraction in [0, 1)")
        require(self.redundancy in REDUNDANCY_READINGS, method, "redundancy", self.redundancy, " | ".join(REDUNDANCY_READINGS))
        require(self.attention_chunk >= 1, method, "attention_chunk", self.attention_chunk, "an integer >= 1")


# ENTRA's published constants: λ = 1e-4 (λ = 2 for MATH: pass bie_lambda=2 there) and the top
# 20 % by importance excluded (τ = 20 %). Its evaluation decoding is not published.
PAPER_PROTOCOL = Protocol(
    source="arXiv 2601.07123 (seed text): λ 1e-4 (2 for MATH), τ = top 20 % excluded; decoding not published",
    method_args={"bie_lambda": DEFAULT_LAMBDA, "top_fraction": DEFAULT_TOP_FRACTION},
)


@register_model("cotbench-entra")
class EntraLM(CotbenchLM):
    method_name = "entra"
    MethodArgs = EntraArgs
    PAPER_PROTOCOL = PAPER_PROTOCOL
    segment_support = None
    segment_unsupported_reason = "ENTRA's analysis needs the last layer's attentions"

    def annotate(self, record, result, prompt_ids, text):
        args = self.method_args
        if not args.analysis or not result.token_ids:
            return
        bie = bidirectional_importance(self.model, prompt_ids, result.token_ids, args.bie_lambda, args.attention_chunk)
        low = low_importance_mask(bie["importance"], args.top_fraction)
        record.method_fields["bie"] = {
            "lambda": args.bie_lambda,
            "mean_importance": float(bie["importance"].mean()),
            "mean_log_prob": float(bie["log_prob"].mean()),
            "mean_attention_received": float(bie["mu"].mean()),
            "low_importance_tokens": int(low.sum()),
        }
        record.method_fields["redundancy_score"] = redundancy_score(result.token_ids, bie, args.redundancy, args.top_fraction)
        record.method_fields["redundancy_reading"] = args.redundancy
