"""Forced text is tokenised in context (`row.in_context`): the ids a row holds after a close
text, an answer prefix, a probe prefix, a final text, [SKIP] or a "Wait" are the ids the
model's tokenizer gives for the whole text, on four tokenizers (SmolLM2's, Qwen3's,
DeepSeek-V3/R1's and the testbed's); and the HF engine feeds exactly those ids, its cache
rolled back so that its next-token distribution is a fresh forward's over them."""

import dataclasses

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotbench.cot_methods.adapter.args import EngineArgs, unescape
from cotbench.cot_methods.loop.hf_engine import ThinkingEngine
from cotbench.cot_methods.loop.row import DecodeSettings, in_context
from cotbench.cot_methods.methods.budget import BudgetArgs
from cotbench.cot_methods.methods.deer import DeerArgs
from cotbench.cot_methods.methods.dynasor import DynasorArgs, DynasorPolicy
from cotbench.cot_methods.methods.eat import EatArgs
from cotbench.cot_methods.methods.entrocut import EntroCutArgs
from cotbench.cot_methods.policy import CloseThinking, Feed, Probe, ProbeResult, ProbeSpec, RowView, ThinkingPolicy
from cotbench.cot_methods.signals.entropy import entropy_from_logits
from cotbench.cot_methods.signals.steps import SKIP_TOKEN


def _method_texts() -> list[str]:
    """Every text a method forces, from the methods' own argument defaults."""
    texts = {unescape(EngineArgs().close_text)}
    for args in (BudgetArgs(), DeerArgs(), DynasorArgs(), EatArgs(), EntroCutArgs()):
        for f in dataclasses.fields(args):
            value = getattr(args, f.name)
            if f.name in ("probe", "answer_prefix", "close_text"):
                texts.add(unescape(value))
            if f.name == "triggers":  # s1-style "Wait" extensions of the thinking
                texts.update(word for trigger in value for word in (trigger, " " + trigger, "\n\n" + trigger))
    texts.add(unescape(EngineArgs().close_text) + BudgetArgs().answer_prefix)  # s1: close text, then its prefix
    dynasor = DynasorPolicy(1, 32, [], 8, "</think>")  # its final text, for a certain probe answer "21"
    view = RowView(thinking_tokens=32, last_token_id=None, token_text="", probes_done=0, max_new_tokens=100)
    texts.add(dynasor.on_probe(view, ProbeResult([0.1], [0.9], [], "21}")).final_text)
    texts.update({SKIP_TOKEN, "\n\n" + SKIP_TOKEN + "\n\n"})
    return sorted(texts)


FORCED = _method_texts()
PIECES = ["Wait", " Wait", ",", ".", "\n", "\n\n", " ", "  ", "=", " 12", "7", "+", "\\boxed{", "}", "</think>", "<think>",
          "So", " the", " answer", "é", "中文", "x²", "**", "Final", "...", "\t", "[SKIP]", "'", "(", ")", "$"]
THINKING = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=30).map("".join),
    st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="\r"), max_size=60),
)


@pytest.fixture(scope="module")
def testbed_tokenizer():
    """The testbed's tokenizer: trained in seconds without the model (testbed/build.py)."""
    from cotbench.cot_methods.testbed import build as testbed

    config = dataclasses.replace(testbed.TestbedConfig(), tokenizer_corpus=1000)
    return testbed.train_tokenizer(config, testbed.TraceStream(config))


@pytest.fixture(scope="module")
def tokenizers(smollm2_path, reference_tokenizers, testbed_tokenizer):
    from transformers import AutoTokenizer

    return {"smollm2": AutoTokenizer.from_pretrained(smollm2_path), **reference_tokenizers, "testbed": testbed_tokenizer}


def test_every_methods_forced_text_is_collected():
    assert len(FORCED) >= 10 and "\n</think>\n\n" in FORCED and SKIP_TOKEN in FORCED and "Wait" in FORCED
    assert any("boxed{21}" in text for text in FORCED)  # Dynasor's final text


@pytest.mark.parametrize("name", ["smollm2", "qwen3", "deepseek_v3", "testbed"])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(thinking=THINKING, forced=st.sampled_from(FORCED))
def test_ids_across_the_boundary_are_the_tokenizers_encoding_of_the_whole_text(tokenizers, name, thinking, forced):
    tokenizer = tokenizers[name]
    fed = tokenizer.encode(thinking, add_special_tokens=False)
    keep, ids = in_context(tokenizer, fed, forced)
    assert fed[:keep] + ids == tokenizer.encode(thinking + forced, add_special_tokens=False)


@pytest.mark.parametrize("name", ["smollm2", "qwen3", "deepseek_v3", "testbed"])
def test_where_separate_encoding_differs_the_row_rolls_back(tokenizers, name):
    """The case that broke the testbed: a step's end and the forced text merge into other
    tokens than the two encoded apart (on every tokenizer, for some step end)."""
    tokenizer = tokenizers[name]
    differing = 0
    for thinking in ("so 12 + 7 = 19.", "so 12 + 7 = 19. ", "so 12 + 7 = 19.\n", "so 12 + 7 = 19.\n\n"):
        for forced in ("\n</think>\n\n", "Wait", "[SKIP]"):
            fed = tokenizer.encode(thinking, add_special_tokens=False)
            whole = tokenizer.encode(thinking + forced, add_special_tokens=False)
            keep, ids = in_context(tokenizer, fed, forced)
            assert fed[:keep] + ids == whole
            if fed + tokenizer.encode(forced, add_special_tokens=False) != whole:
                differing += 1
                assert keep < len(fed)  # rolled back
    assert differing >= 1


class SpaceThenClose(ThinkingPolicy):
    """Thinks " " (its only allowed token), then closes thinking with a close text that starts
    with a word: " " + "Wait" is one token, so the engine must roll the " " back."""

    def __init__(self, space_id):
        self.space_id = space_id

    def mask_logits(self, logits):
        keep = logits[:, self.space_id].clone()
        logits[:] = float("-inf")
        logits[:, self.space_id] = keep
        return logits

    def on_token(self, row, token_id):
        return CloseThinking("test") if row.thinking_tokens >= 1 else Feed()


def test_the_hf_engine_feeds_the_joint_ids_and_its_cache_is_a_fresh_forwards(tiny_llama):
    model, tokenizer = tiny_llama
    engine = ThinkingEngine(model, tokenizer)
    prompt = tokenizer.encode("The capital of France is", add_special_tokens=False)
    close = "Wait, so.\n</think>\n\n"
    (space,) = tokenizer.encode(" ", add_special_tokens=False)
    joint = tokenizer.encode(" " + close, add_special_tokens=False)
    assert [space] + tokenizer.encode(close, add_special_tokens=False) != joint  # the case under test
    settings = DecodeSettings(max_new_tokens=16, close_text=close, record_token_stats=True)
    result = engine.run([prompt], settings, SpaceThenClose(space))[0]
    assert result.token_ids[: len(joint)] == joint  # the tokenizer's ids for the whole text
    assert result.forced == {"ids": joint, "rollback": 1, "text": " " + close}
    assert result.kinds.count("thinking") == 1 and result.cut_position == 1  # the thinking count is kept
    assert len(result.kinds) == len(result.token_ids)
    answer = len(joint)  # the first token the model wrote after the close, from the rolled-back cache
    with torch.no_grad():
        fresh = torch.softmax(model(torch.tensor([prompt + joint])).logits[0, -1].float(), dim=-1)
    assert result.token_ids[answer] == int(fresh.argmax())
    assert result.token_probs[answer] == pytest.approx(float(fresh[result.token_ids[answer]]), abs=1e-5)
    assert result.token_entropies[answer] == pytest.approx(float(torch.special.entr(fresh).sum()), abs=1e-4)


class SpacesThenProbe(ThinkingPolicy):
    """Thinks three spaces, and probes with "Wait" once, after two: " " + "Wait" is one token,
    so the probe rolls a space back, and must restore it when the probe is discarded."""

    def __init__(self, space_id, prefix_ids):
        self.space_id, self.spec, self.steps = space_id, ProbeSpec(tuple(prefix_ids), 2), 0

    def mask_logits(self, logits):
        self.steps += 1
        if self.steps > 3:
            return logits
        keep = logits[:, self.space_id].clone()
        logits[:] = float("-inf")
        logits[:, self.space_id] = keep
        return logits

    def on_token(self, row, token_id):
        return Probe(self.spec) if row.thinking_tokens == 2 and not row.probes_done else Feed()


def test_a_probe_rolls_back_in_context_and_its_discard_restores_the_thinking(tiny_llama):
    model, tokenizer = tiny_llama
    engine = ThinkingEngine(model, tokenizer)
    prompt = tokenizer.encode("The capital of France is", add_special_tokens=False)
    (space,) = tokenizer.encode(" ", add_special_tokens=False)
    wait = tokenizer.encode("Wait", add_special_tokens=False)
    keep, ids = in_context(tokenizer, [space, space], "Wait")
    assert keep == 1 and ids == tokenizer.encode(" Wait", add_special_tokens=False)  # the case under test
    settings = DecodeSettings(max_new_tokens=6, record_token_stats=True)
    probed = engine.run([prompt], settings, SpacesThenProbe(space, wait))[0]
    [probe] = probed.probes
    with torch.no_grad():
        fresh = model(torch.tensor([prompt + [space] + ids])).logits[0, -1]
    assert probe["entropies"][0] == pytest.approx(float(entropy_from_logits(fresh)), abs=1e-4)
    assert probed.probe_tokens == len(ids) + 2
    # After the probe the row goes on from both spaces: the same distribution as a fresh forward.
    with torch.no_grad():
        after = torch.softmax(model(torch.tensor([prompt + [space] * 3])).logits[0, -1].float(), dim=-1)
    assert probed.token_ids[:3] == [space] * 3
    assert probed.token_entropies[3] == pytest.approx(float(torch.special.entr(after).sum()), abs=1e-4)
