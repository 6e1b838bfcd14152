"""A generation that writes the end-of-thinking marker twice: the adapter's thinking tokens are the
grader's (split at the last marker), the same count lm-eval's own model gets for the same text."""

from transformers import AutoTokenizer

from cotbench.cot_methods.adapter.accounting import thinking_through_last_marker
from cotbench.harness_tasks.token_counts import counted
from cotbench.record import GenerationRecord
from cotbench.thinking import split_thinking
from tests.conftest import TESTBED

TWICE = "Mia has 3.\n</think>\n\nWait, she buys 1 more.\n</think>\n\n4 apples.\n\n**Final Answer**\n\\boxed{4}"


def engine_count(tokenizer, ids: list[int]) -> int:
    """What an engine counts: the tokens through the first marker (it switches to the answer there)."""
    marker = tokenizer.convert_tokens_to_ids("</think>")
    return ids.index(marker) + 1


def test_thinking_runs_through_the_last_marker_as_for_a_plain_model():
    tokenizer = AutoTokenizer.from_pretrained(TESTBED)
    ids = tokenizer.encode(TWICE, add_special_tokens=False)
    text = tokenizer.decode(ids)
    first = engine_count(tokenizer, ids)
    ours = thinking_through_last_marker(tokenizer, ids, text, "</think>", first)
    plain = counted(GenerationRecord(), text, TESTBED, "</think>").thinking_tokens
    thinking, answer, _closed = split_thinking(text)
    assert ours == plain > first
    assert tokenizer.decode(ids[ours:]) == answer and tokenizer.decode(ids[:ours]) == thinking + "</think>"


def test_one_marker_keeps_the_engines_count():
    tokenizer = AutoTokenizer.from_pretrained(TESTBED)
    once = TWICE.replace("Mia has 3.\n</think>\n\n", "Mia has 3.\n\n")
    ids = tokenizer.encode(once, add_special_tokens=False)
    first = engine_count(tokenizer, ids)
    assert thinking_through_last_marker(tokenizer, ids, tokenizer.decode(ids), "</think>", first) == first
