"""The thinking loop: exact against HF generate, probes discarded exactly, rows independent."""

import pytest
import torch

from cotbench.cot_methods.loop.hf_engine import ThinkingEngine
from cotbench.cot_methods.loop.row import DecodeSettings, in_context
from cotbench.cot_methods.policy import CloseThinking, Decision, Feed, Probe, ProbeSpec, ThinkingPolicy

PROMPTS = ["The capital of France is", "Once upon a time, in a small village by the sea, there lived", "1 + 1 ="]


def _encode(tokenizer, texts):
    return [tokenizer.encode(t, add_special_tokens=False) for t in texts]


def _hf_greedy(model, prompt_ids, n):
    out = model.generate(torch.tensor([prompt_ids]), max_new_tokens=n, do_sample=False, min_new_tokens=n)
    return out[0, len(prompt_ids):].tolist()


class ProbeEveryN(ThinkingPolicy):
    """Probes every `every` thinking tokens and always continues (or cuts after `cut_after` probes)."""

    def __init__(self, prefix_ids, every=4, max_tokens=3, cut_after=None):
        self.prefix_ids, self.every, self.max_tokens, self.cut_after = tuple(prefix_ids), every, max_tokens, cut_after

    def on_token(self, row, token_id):
        if row.thinking_tokens and row.thinking_tokens % self.every == 0 and row.state.get("at") != row.thinking_tokens:
            row.state["at"] = row.thinking_tokens
            return Probe(ProbeSpec(self.prefix_ids, self.max_tokens))
        return Feed()

    def on_probe(self, row, result):
        cut = self.cut_after is not None and row.probes_done + 1 >= self.cut_after
        return Decision(cut=cut, score=result.entropies[0], reason="test")


@pytest.mark.parametrize("fixture", ["tiny_llama", "smollm2"])
def test_greedy_matches_hf_generate_batched(fixture, request):
    model, tokenizer = request.getfixturevalue(fixture)
    engine = ThinkingEngine(model, tokenizer)
    prompts = _encode(tokenizer, PROMPTS)
    n = 12
    results = engine.run(prompts, DecodeSettings(max_new_tokens=n), ThinkingPolicy())
    for prompt, result in zip(prompts, results):
        assert result.token_ids == _hf_greedy(model, prompt, n)
        assert result.finish_reason == "length" and len(result.token_ids) == n


def test_probes_that_continue_leave_the_text_unchanged(smollm2):
    model, tokenizer = smollm2
    engine = ThinkingEngine(model, tokenizer)
    prompts = _encode(tokenizer, PROMPTS)
    settings = DecodeSettings(max_new_tokens=20)
    plain = engine.run(prompts, settings, ThinkingPolicy())
    probe_prefix = tokenizer.encode("\n**Final Answer**\n\\boxed{", add_special_tokens=False)
    probed = engine.run(prompts, settings, ProbeEveryN(probe_prefix, every=4, max_tokens=3))
    for a, b in zip(plain, probed):
        assert a.token_ids == b.token_ids
        assert len(b.probes) >= 3 and all(p["decision"] == "continue" for p in b.probes)
        fed = [len(in_context(tokenizer, a.token_ids[: p["position"]], "\n**Final Answer**\n\\boxed{")[1]) for p in b.probes]
        assert b.probe_tokens == sum(fed) + 3 * len(b.probes)  # the prefix as fed (in context), 3 decoded
        assert all(len(p["entropies"]) == 3 and all(e >= 0 for e in p["entropies"]) for p in b.probes)


def test_probe_entropies_equal_a_direct_forward(tiny_llama):
    """The entropy the loop records at a probe equals one computed from scratch on the same prefix."""
    from cotbench.cot_methods.signals.entropy import entropy_from_logits

    model, tokenizer = tiny_llama
    engine = ThinkingEngine(model, tokenizer)
    prompt = _encode(tokenizer, PROMPTS[:1])[0]
    prefix = tokenizer.encode(" Answer:", add_special_tokens=False)
    result = engine.run([prompt], DecodeSettings(max_new_tokens=9), ProbeEveryN(prefix, every=4, max_tokens=2))[0]
    for probe in result.probes:  # the prefix is tokenised in context with the thinking (row.py)
        keep, ids = in_context(tokenizer, result.token_ids[: probe["position"]], tokenizer.decode(prefix))
        context = prompt + result.token_ids[:keep] + ids
        with torch.no_grad():
            logits = model(torch.tensor([context])).logits[0, -1]
        assert probe["entropies"][0] == pytest.approx(float(entropy_from_logits(logits)), abs=1e-4)


def test_cut_closes_thinking_and_answers_within_budget(tiny_llama):
    model, tokenizer = tiny_llama
    engine = ThinkingEngine(model, tokenizer)
    prompt = _encode(tokenizer, PROMPTS[:1])
    settings = DecodeSettings(max_new_tokens=40, answer_budget=5, close_text="\n</think>\n\n")
    prefix = tokenizer.encode(" so", add_special_tokens=False)
    result = engine.run(prompt, settings, ProbeEveryN(prefix, every=6, max_tokens=1, cut_after=1))[0]
    thinking = engine.run(prompt, DecodeSettings(max_new_tokens=6), ThinkingPolicy())[0].token_ids
    keep, close_ids = in_context(tokenizer, thinking, "\n</think>\n\n")  # the close, tokenised in context
    assert result.cut_position == 6 and result.closed_by == "method" and keep in (5, 6)
    assert result.kinds.count("thinking") == 6  # the thinking count is kept, whatever the close re-tokenises
    assert result.token_ids[: keep + len(close_ids)] == thinking[:keep] + close_ids
    assert len(result.token_ids) == keep + len(close_ids) + 5 and result.finish_reason == "length"


class CloseAt(ThinkingPolicy):
    def __init__(self, n, final_text=None):
        self.n, self.final_text = n, final_text

    def on_token(self, row, token_id):
        return CloseThinking("budget", self.final_text) if row.thinking_tokens >= self.n else Feed()


def test_close_with_final_text_ends_the_row(tiny_llama):
    model, tokenizer = tiny_llama
    engine = ThinkingEngine(model, tokenizer)
    result = engine.run(_encode(tokenizer, PROMPTS[:1]), DecodeSettings(max_new_tokens=50), CloseAt(3, "</think>\\boxed{7}"))[0]
    assert tokenizer.decode(result.token_ids).endswith("</think>\\boxed{7}")
    assert result.finish_reason == "final" and result.kinds.count("thinking") == 3


def test_stop_strings_and_eos(smollm2):
    model, tokenizer = smollm2
    engine = ThinkingEngine(model, tokenizer)
    prompt = _encode(tokenizer, ["Count: 1, 2, 3, 4,"])
    free = engine.run(prompt, DecodeSettings(max_new_tokens=12), ThinkingPolicy())[0]
    text = tokenizer.decode(free.token_ids)
    stop = text.strip()[:3]
    stopped = engine.run(prompt, DecodeSettings(max_new_tokens=12, stop_strings=(stop,)), ThinkingPolicy())[0]
    assert stopped.finish_reason == "stop" and stop in tokenizer.decode(stopped.token_ids)
    eos_id = free.token_ids[2]
    ended = engine.run(prompt, DecodeSettings(max_new_tokens=12, eos_token_ids=frozenset({eos_id})), ThinkingPolicy())[0]
    assert ended.finish_reason == "eos" and ended.token_ids == free.token_ids[:2]


def test_sampling_is_seeded_and_rows_independent(tiny_llama):
    model, tokenizer = tiny_llama
    engine = ThinkingEngine(model, tokenizer)
    prompts = _encode(tokenizer, PROMPTS)
    settings = DecodeSettings(max_new_tokens=10, do_sample=True, temperature=0.8, top_p=0.9, seed=7)
    a = engine.run(prompts, settings, ThinkingPolicy(), row_seeds=[0, 1, 2])
    b = engine.run(prompts, settings, ThinkingPolicy(), row_seeds=[0, 1, 2])
    single = engine.run(prompts[1:2], settings, ThinkingPolicy(), row_seeds=[1])
    assert [r.token_ids for r in a] == [r.token_ids for r in b]
    assert single[0].token_ids == a[1].token_ids  # a row's sample does not depend on its batch
    other = engine.run(prompts, DecodeSettings(max_new_tokens=10, do_sample=True, temperature=0.8, seed=8), ThinkingPolicy())
    assert [r.token_ids for r in other] != [r.token_ids for r in a]


class ProbeWith(ProbeEveryN):
    """ProbeEveryN with the loop hooks of `ProbeSpec` set (sampled probes, T-scaled entropies)."""

    def __init__(self, prefix_ids, every, max_tokens, **spec):
        super().__init__(prefix_ids, every, max_tokens)
        self.spec = ProbeSpec(tuple(prefix_ids), max_tokens, **spec)

    def on_token(self, row, token_id):
        action = super().on_token(row, token_id)
        return Probe(self.spec) if isinstance(action, Probe) else action


def test_sampled_probes_leave_the_main_stream_untouched_and_scaled_entropies_are_exact(tiny_llama):
    from cotbench.cot_methods.signals.entropy import entropy_from_logits

    model, tokenizer = tiny_llama
    engine = ThinkingEngine(model, tokenizer)
    prompt = _encode(tokenizer, PROMPTS[:1])
    prefix = tokenizer.encode(" Answer:", add_special_tokens=False)
    settings = DecodeSettings(max_new_tokens=9, do_sample=True, temperature=0.7, seed=3)
    plain = engine.run(prompt, settings, ThinkingPolicy())[0]
    greedy = engine.run(prompt, settings, ProbeWith(prefix, 4, 3))[0]
    sampled = engine.run(prompt, settings, ProbeWith(prefix, 4, 3, temperature=1.0, entropy_at_sampling_temperature=True))[0]
    assert sampled.token_ids == greedy.token_ids == plain.token_ids  # probes draw from their own stream
    assert [p["probe_text"] for p in sampled.probes] != [p["probe_text"] for p in greedy.probes]
    assert sampled.probes == engine.run(prompt, settings, ProbeWith(prefix, 4, 3, temperature=1.0, entropy_at_sampling_temperature=True))[0].probes
    first = sampled.probes[0]
    keep, ids = in_context(tokenizer, sampled.token_ids[: first["position"]], tokenizer.decode(prefix))
    with torch.no_grad():
        logits = model(torch.tensor([prompt[0] + sampled.token_ids[:keep] + ids])).logits[0, -1]
    assert first["entropies"][0] == pytest.approx(float(entropy_from_logits(logits / 0.7)), abs=1e-4)
    assert greedy.probes[0]["entropies"][0] == pytest.approx(float(entropy_from_logits(logits)), abs=1e-4)


def test_a_context_ban_bans_a_token_right_after_its_context_and_nowhere_else(tiny_llama):
    """NoWait's multi-token keywords are banned by context (`mask_logits` reads the ids fed last): a
    ban of token b right after token a changes each row exactly where a was just written and b would
    follow, and nothing else."""
    model, tokenizer = tiny_llama
    prompts, settings = _encode(tokenizer, PROMPTS[:2]), DecodeSettings(max_new_tokens=16)
    plain = [r.token_ids for r in ThinkingEngine(model, tokenizer).run(prompts, settings, ThinkingPolicy())]
    a, b = plain[0][5], plain[0][6]

    class BanAfter(ThinkingPolicy):
        def mask_logits(self, logits, recent_ids=None):
            for row, ids in enumerate(recent_ids):
                if ids and ids[-1] == a:
                    logits[row, b] = float("-inf")
            return logits

    banned = [r.token_ids for r in ThinkingEngine(model, tokenizer).run(prompts, settings, BanAfter())]
    for before, after in zip(plain, banned):
        pairs = [j for j in range(len(before) - 1) if (before[j], before[j + 1]) == (a, b)]
        if not pairs:  # the other row, unless it writes the pair too: untouched
            assert after == before
            continue
        j = pairs[0]
        assert after[: j + 1] == before[: j + 1] and after[j + 1] != b
