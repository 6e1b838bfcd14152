"""`cotbench-vanilla`: full reasoning, no intervention — the baseline every method is
compared against, decoded by the same engine so token accounting is identical."""

from lm_eval.api.registry import register_model

from ..adapter.base import CotbenchLM


@register_model("cotbench-vanilla")
class VanillaLM(CotbenchLM):
    method_name = "vanilla"
