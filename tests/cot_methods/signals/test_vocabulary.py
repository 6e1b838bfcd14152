"""Trigger and NoWait keyword expansion on the real SmolLM2 tokenizer."""

import pytest

from cotbench.cot_methods.methods.nowait import NOWAIT_KEYWORDS
from cotbench.cot_methods.signals.vocabulary import reflection_token_ids, trigger_token_ids
from cotbench.errors import CotbenchError


def test_trigger_matches_every_tokenisation(smollm2):
    _, tok = smollm2
    ids = trigger_token_ids(tok, ["Wait"], "m")
    for text in ["Wait", " Wait"]:
        (token,) = tok.encode(text, add_special_tokens=False)
        assert token in ids
    assert tok.encode("\n\nWait", add_special_tokens=False)[-1] in ids
    assert tok.encode(" wait", add_special_tokens=False)[0] not in ids  # case-sensitive


def test_multi_token_trigger_is_an_error(smollm2):
    _, tok = smollm2
    with pytest.raises(CotbenchError, match="'Qzxv' is not a single token"):
        trigger_token_ids(tok, ["Qzxv"], "cotbench-entrocut")


def test_nowait_bans_reflections_but_not_lookalikes(smollm2):
    _, tok = smollm2
    banned = reflection_token_ids(tok, NOWAIT_KEYWORDS)
    for word in [" wait", "Wait", " But", " however", " Alternatively", " check", " maybe", " now", " any"]:
        ids = tok.encode(word, add_special_tokens=False)
        assert len(ids) == 1 and ids[0] in banned, word
    for word in [" many", " know", " button", " mother", " company", " checking"]:
        ids = tok.encode(word, add_special_tokens=False)
        assert not set(ids) & banned, word


# -- the tokenizers the methods are used with: Qwen3 and DeepSeek-V3/R1 ----------------------
WAIT_IDS = {"qwen3": {" Wait": 13824, "Wait": 14190, ".Wait": 28384}, "deepseek_v3": {" Wait": 37157, "Wait": 39059}}


@pytest.mark.parametrize("name", ["qwen3", "deepseek_v3"])
def test_wait_trigger_ids_on_reasoning_tokenizers(reference_tokenizers, name):
    """Which ids EntroCut and DEER stop at for "Wait" in the forms it takes in R1-style text."""
    tok = reference_tokenizers[name]
    ids = trigger_token_ids(tok, ["Wait"], "cotbench-deer")
    assert set(WAIT_IDS[name].values()) <= ids
    for text in ["Wait", " Wait", "\n\nWait", "Wait,", " Wait,", "\n\nWait,", "Wait.", ".Wait"]:
        pieces = tok.encode(text, add_special_tokens=False)
        carrying = [p for p in pieces if "Wait" in tok.decode([p])]
        if name == "deepseek_v3" and text == ".Wait":  # ".W" + "ait": no token carries the word
            assert carrying == [] and not set(pieces) & ids
            continue
        assert len(carrying) == 1 and carrying[0] in ids, (name, text, pieces)
    for text in [" wait", " Waiting", " await"]:
        assert not set(tok.encode(text, add_special_tokens=False)) & ids, text


@pytest.mark.parametrize("name", ["qwen3", "deepseek_v3"])
def test_nowait_bans_every_keyword_spelling_single_or_in_context(reference_tokenizers, name):
    from cotbench.cot_methods.methods.nowait import NoWaitPolicy
    from cotbench.cot_methods.signals.vocabulary import keyword_continuation_bans, keyword_spellings

    tok = reference_tokenizers[name]
    banned = reflection_token_ids(tok, NOWAIT_KEYWORDS)
    policy = NoWaitPolicy(banned, keyword_continuation_bans(tok, NOWAIT_KEYWORDS, banned))
    in_context = []
    for keyword in NOWAIT_KEYWORDS:
        for spelling in keyword_spellings(keyword):
            pieces = tok.encode(spelling, add_special_tokens=False)
            if len(pieces) == 1:
                assert pieces[0] in banned, (name, spelling)
            elif not set(pieces[:-1]) & banned:  # the keyword can only be written by completing it
                assert pieces[-1] in policy.banned_after([101, *pieces[:-1]]), (name, spelling, pieces)
                in_context.append(spelling)
    # "double-check" = "double" + "-check": "-check" (core "check") was already banned outright;
    # "hmm" = "h" + "mm" and "alternatively" = "altern" + "atively" had no banned piece at all
    # before, and are now banned in context.
    assert {"double-check", " double-check", "Double-check"} <= set(in_context)
    check_piece = tok.encode("double-check", add_special_tokens=False)[-1]
    assert check_piece in banned
    newly = {s for s in in_context if not set(tok.encode(s, add_special_tokens=False)) & banned}
    assert {"hmm", "alternatively"} <= newly
    double = tok.encode(" double", add_special_tokens=False)
    assert len(double) == 1 and double[0] not in banned  # "double" itself stays allowed
    assert not policy.banned_after(tok.encode("a double", add_special_tokens=False)[:-1])
    for word in [" many", " know", " button", " mother", " company", " checking"]:
        assert not set(tok.encode(word, add_special_tokens=False)) & banned, (name, word)


def test_context_bans_reach_the_logits_of_the_right_row(reference_tokenizers):
    import torch

    from cotbench.cot_methods.methods.nowait import NoWaitPolicy
    from cotbench.cot_methods.signals.vocabulary import keyword_continuation_bans

    tok = reference_tokenizers["qwen3"]
    banned = reflection_token_ids(tok, NOWAIT_KEYWORDS)
    policy = NoWaitPolicy(banned, keyword_continuation_bans(tok, NOWAIT_KEYWORDS, banned))
    h, mm = tok.encode("hmm", add_special_tokens=False)  # "h" + "mm"
    assert h not in banned and mm not in banned
    masked = policy.mask_logits(torch.zeros(2, len(tok)), recent_ids=[[5, h], [5, 6]])
    assert masked[0, mm] == float("-inf") and masked[1, mm] == 0.0
    assert masked[0, h] == 0.0 and masked[1, h] == 0.0
    assert policy.mask_logits(torch.zeros(1, len(tok)))[0, mm] == 0.0  # no context given: no context ban
