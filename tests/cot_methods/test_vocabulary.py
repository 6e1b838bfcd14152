"""Trigger and NoWait keyword expansion on the real SmolLM2 tokenizer."""

import pytest

from cotbench.cot_methods.nowait import NOWAIT_KEYWORDS
from cotbench.cot_methods.vocabulary import reflection_token_ids, trigger_token_ids
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
