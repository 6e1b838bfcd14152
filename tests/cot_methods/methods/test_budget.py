"""s1 budget forcing as its lm-eval fork closes a spent budget (protocol=paper): the newline
before the end-of-thinking delimiter only where the thinking lacks one (vllm_causallms.py:403-409)."""

import pytest

from cotbench.cot_methods.loop.row import DecodeSettings, Row, decode
from cotbench.cot_methods.methods.budget import BudgetLM, BudgetPolicy
from cotbench.cot_methods.policy import RowView


def s1_policy(protocol: str, budget: int) -> tuple[BudgetPolicy, DecodeSettings]:
    from cotbench.cot_methods.adapter.args import unescape

    _, _, engine, args = BudgetLM.resolve_arguments({"protocol": protocol, "thinking_budget": budget})
    policy = BudgetPolicy(args.thinking_budget, unescape(args.answer_prefix), unescape(engine.close_text), args.close_newline,
                          args.answer_tokens)
    return policy, DecodeSettings(max_new_tokens=100, close_text=unescape(engine.close_text))


def closed_text(tokenizer, protocol: str, thinking: str) -> str:
    """The thinking and what the method forces once the budget is spent, as a loop feeds it."""
    ids = tokenizer.encode(thinking, add_special_tokens=False)
    policy, settings = s1_policy(protocol, len(ids))
    row = Row(index=0, max_new_tokens=100, thinking_tokens=len(ids), token_ids=list(ids))
    view = RowView(len(ids), ids[-1], "x", 0, 100, row.state, lambda: decode(tokenizer, row.token_ids[-4:]))
    forced = row.decide(policy, view, 0, settings, tokenizer)
    return decode(tokenizer, row.token_ids + forced.ids)


@pytest.mark.parametrize("name", ["qwen3", "deepseek_v3"])
def test_paper_adds_the_newline_before_the_delimiter_only_where_thinking_lacks_one(reference_tokenizers, name):
    tokenizer = reference_tokenizers[name]
    assert closed_text(tokenizer, "paper", "So x = 5.\n") == "So x = 5.\n</think>\nFinal Answer:"
    assert closed_text(tokenizer, "paper", "So x = 5.") == "So x = 5.\n</think>\nFinal Answer:"
    # Ours (default) always writes its close text whole.
    assert closed_text(tokenizer, "default", "So x = 5.\n") == "So x = 5.\n\n</think>\n\nFinal Answer:"
