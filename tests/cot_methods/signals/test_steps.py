"""Step splitting, exact token-to-step alignment on real tokenizers, scoring and pruning."""

import math

import pytest
import torch

from cotbench.cot_methods.signals.steps import (
    SKIP_TOKEN,
    assign_tokens_to_steps,
    compress_thinking,
    score_steps,
    skip_statistics,
    split_steps,
    steps_to_skip,
    teacher_forced_token_stats,
    token_char_spans,
)

THINKING = "First, 3 + 4 = 7.\n\nWait, let me double-check: 7.\n\n\n\nSo the answer is 7.\n\nDone"


def test_split_steps_skips_empty_runs():
    steps = split_steps(THINKING)
    assert [s.text(THINKING) for s in steps] == ["First, 3 + 4 = 7.", "Wait, let me double-check: 7.", "So the answer is 7.", "Done"]


@pytest.mark.parametrize("tokenizer_fixture", ["smollm2"])
def test_alignment_is_exact_whatever_the_newline_tokens(tokenizer_fixture, request):
    _, tok = request.getfixturevalue(tokenizer_fixture)
    for text in [THINKING, "a.\n\nb\n\n\nc", "x\n\n\n\ny", "émoji 😀 step\n\nnext ✓"]:
        ids = tok.encode(text, add_special_tokens=False)
        spans = token_char_spans(tok, ids)
        decoded = tok.decode(ids)
        assert "".join(decoded[a:b] for a, b in spans) == decoded
        steps = split_steps(decoded)
        owners = assign_tokens_to_steps(spans, steps)
        # Independent check: rebuild every step's text from the tokens assigned to it.
        for index, step in enumerate(steps):
            pieces = "".join(decoded[a:b] for (a, b), o in zip(spans, owners) if o == index)
            assert step.text(decoded) in pieces and "\n\n" not in pieces.strip("\n")
        # Tokens owned by no step are pure separators.
        assert all(decoded[a:b].strip() == "" for (a, b), o in zip(spans, owners) if o is None)


def test_scores_against_a_direct_computation():
    owners = [0, 0, None, 1, 1, 1, None, 2]
    entropies = [1.0, 3.0, 9.0, 0.5, 0.5, 2.0, 9.0, 4.0]
    probs = [0.5, 0.25, 1.0, 0.9, 0.9, 0.1, 1.0, 1.0]
    assert score_steps(owners, entropies, probs, 3, "sum") == [4.0, 3.0, 4.0]
    assert score_steps(owners, entropies, probs, 3, "mean") == [2.0, 1.0, 4.0]
    plogp = score_steps(owners, entropies, probs, 3, "sampled_plogp")
    assert plogp[0] == pytest.approx((-0.5 * math.log(0.5) - 0.25 * math.log(0.25)) / 2)
    assert plogp[2] == 0.0


def test_pruning_replaces_floor_kappa_n_lowest_and_keeps_order():
    scores = [0.9, 0.1, 0.5, 0.3, 0.7]
    assert steps_to_skip(scores, 0.8) == {1, 3, 2, 4}  # floor(0.8*5) = 4 lowest
    assert steps_to_skip(scores, 0.5) == {1, 3}  # floor(2.5) = 2
    assert steps_to_skip(scores, 0.4, "high") == {0, 4}
    assert len(steps_to_skip(scores, 0.4, "random", seed=1)) == 2
    steps = split_steps(THINKING)
    compressed = compress_thinking(THINKING, steps, {1, 3})
    assert compressed == f"First, 3 + 4 = 7.\n\n{SKIP_TOKEN}\n\nSo the answer is 7.\n\n{SKIP_TOKEN}"


def test_skip_statistics_as_the_official_reward():
    assert skip_statistics("a\n\n[SKIP]\n\n[SKIP]") == {"skip_steps": 2, "skip_ratio": 0.5}
    assert skip_statistics("no skips") == {"skip_steps": 0, "skip_ratio": 0.0}


def test_teacher_forced_stats_equal_a_direct_forward(tiny_llama):
    model, tok = tiny_llama
    context, target = tok.encode("Question: 2+2?"), tok.encode(" It is 4.\n\nDone")
    entropies, probs = teacher_forced_token_stats(model, context, target)
    with torch.no_grad():
        logits = model(torch.tensor([context + target])).logits[0]
    for j, token in enumerate(target):
        p = torch.softmax(logits[len(context) + j - 1], -1)
        assert probs[j] == pytest.approx(float(p[token]), rel=1e-4)
        assert entropies[j] == pytest.approx(float(-(p * p.log()).sum()), rel=1e-4)


def test_official_token_rule_ends_steps_only_at_a_bare_blank_line_token():
    """The released code ends a step at a token that is exactly "\\n\\n" (build_complete_thinking_dataset.py:75)
    and joins the stripped steps with nothing between them (sort_step_entropy.py:125); the text
    rule (default) splits at every "\\n\\n" and keeps it between steps."""
    from cotbench.cot_methods.signals.steps import thinking_steps
    from cotbench.cot_methods.testbed.reference_tokenizers import load

    tok = load("qwen3")  # writes ".\n\n" and "\n\n\n" as single tokens, "\n\n" after a digit alone
    thinking = "Add 3 and 4.\n\nThat is 7\n\nCheck: 7 - 4 = 3.\n\n\nDone"
    ids = tok.encode(thinking, add_special_tokens=False)
    decoded = tok.decode(ids)
    spans = token_char_spans(tok, ids)
    official = thinking_steps(decoded, spans, "token")
    assert [s.text(decoded).strip() for s in official] == ["Add 3 and 4.\n\nThat is 7", "Check: 7 - 4 = 3.\n\n\nDone"]
    assert compress_thinking(decoded, official, {0}, "token") == f"{SKIP_TOKEN}Check: 7 - 4 = 3.\n\n\nDone"
    ours = thinking_steps(decoded, spans, "text")
    assert [s.text(decoded) for s in ours] == ["Add 3 and 4.", "That is 7", "Check: 7 - 4 = 3.", "\nDone"]
    assert compress_thinking(decoded, ours, {0}, "text") == f"{SKIP_TOKEN}\n\nThat is 7\n\nCheck: 7 - 4 = 3.\n\n\nDone"
    # The bare "\n\n" token belongs to no step (not scored, as the official mean leaves it out);
    # ".\n\n" is part of its step.
    owners = assign_tokens_to_steps(spans, official)
    pieces = [decoded[a:b] for a, b in spans]
    assert owners[pieces.index("\n\n")] is None and owners[pieces.index(".\n\n")] == 0
    with pytest.raises(ValueError, match="step_split='lines'"):
        thinking_steps(decoded, spans, "lines")
