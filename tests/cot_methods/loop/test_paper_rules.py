"""The official rules `protocol=paper` selects, as both loops run them (the HF engine and the
segment loop on a backend that answers as vLLM does): DEER's confidence from the tokens its
sampled probe drew, EAT's entropy at the official T = 0.6 under greedy decoding, NoWait's ban in
the answer too, s1's answer budget of its own. On a 2-layer random Llama (real tokenisation, fast
forwards), whose near-uniform distributions make sampled probes draw unlikely tokens."""

import pytest
import torch
from hf_segment_backend import HFSegmentBackend

from cotbench.cot_methods.adapter.args import unescape
from cotbench.cot_methods.loop.hf_engine import ThinkingEngine
from cotbench.cot_methods.loop.row import DecodeSettings, decode, in_context
from cotbench.cot_methods.loop.segment_loop import SegmentThinkingLoop
from cotbench.cot_methods.methods.budget import BudgetLM, BudgetPolicy
from cotbench.cot_methods.methods.deer import DeerLM, DeerPolicy
from cotbench.cot_methods.methods.eat import EatLM, EatPolicy
from cotbench.cot_methods.methods.nowait import NoWaitLM, NoWaitPolicy
from cotbench.cot_methods.policy import Decision, Feed, Probe, SegmentPlan, ThinkingPolicy
from cotbench.cot_methods.signals.entropy import entropy_from_logits

PROMPTS = ["What is 2 + 3?", "Name a prime number."]


def encode(tokenizer, text):
    return tokenizer.encode(text, add_special_tokens=False)


def run_hf(model, tokenizer, policy, settings):
    engine = ThinkingEngine(model, tokenizer)
    return engine.run([encode(tokenizer, p) for p in PROMPTS], settings, policy, row_seeds=list(range(len(PROMPTS))))


def run_segments(model, tokenizer, policy, settings, top_k=5):
    loop = SegmentThinkingLoop(HFSegmentBackend(model, tokenizer), tokenizer, top_k)
    return [result for result, _ in loop.run(PROMPTS, settings, policy, list(range(len(PROMPTS))))]


@torch.inference_mode()
def next_token_logits(model, ids):
    """Logits after each position of `ids` (one fresh forward, no cache)."""
    return model(torch.tensor([ids])).logits[0].float()


class RecordingDeer(DeerPolicy):
    """DEER, keeping each ProbeResult it decided on."""

    def __init__(self, *args):
        super().__init__(*args)
        self.results = []

    def on_probe(self, row, result):
        self.results.append(result)
        return super().on_probe(row, result)


# --- DEER (item 5): the confidence averages the tokens the sampled probe drew ------------------
def deer_paper(tokenizer):
    """DEER's paper arguments; every token is a trigger (the random model says no "Wait"), one probe."""
    _, _, _, args = DeerLM.resolve_arguments({"protocol": "paper", "probe_tokens": 6, "max_probes": 1})
    probe = encode(tokenizer, unescape(args.probe))
    return RecordingDeer(args, set(range(len(tokenizer))), probe, lambda t: tokenizer.decode([t])), probe


@pytest.mark.parametrize("loop", ["hf", "segments"])
def test_deer_paper_scores_the_tokens_its_sampled_probe_drew(tiny_llama, loop):
    model, tokenizer = tiny_llama
    policy, probe = deer_paper(tokenizer)
    run = run_hf if loop == "hf" else run_segments
    results = run(model, tokenizer, policy, DecodeSettings(max_new_tokens=20))
    probes = [p for r in results for p in r.probes]
    assert probes and len(policy.results) == len(probes)
    drew_unlikely = False
    for record, result in zip(probes, policy.results):
        chosen = result.chosen_probs
        assert len(chosen) == len(result.max_probs) >= 2
        assert record["score"] == pytest.approx(sum(chosen[1:]) / len(chosen[1:]), abs=1e-6)  # closing token kept, first dropped
        assert all(c <= m + 1e-6 for c, m in zip(chosen, result.max_probs))
        drew_unlikely |= any(c < 0.9 * m for c, m in zip(chosen, result.max_probs))
    assert drew_unlikely  # sampled at T = 1 (vLLM's default), not greedy
    if loop == "hf":  # each is the probability of the drawn token given the probe text and the tokens before it
        prompt = encode(tokenizer, PROMPTS[0])
        first = policy.results[0]
        logits = next_token_logits(model, prompt + probe + first.token_ids)
        start = len(prompt) + len(probe) - 1
        expected = [float(torch.softmax(logits[start + i], -1)[t]) for i, t in enumerate(first.token_ids)]
        assert first.chosen_probs == pytest.approx(expected, abs=1e-4)


# --- EAT (item 8): entropy at T = 0.6, in bits, under greedy decoding too ----------------------
class ProbeAfterTwo(ThinkingPolicy):
    """Takes the given probe once, after two thinking tokens, and never cuts."""

    def __init__(self, spec):
        self.spec, self.results = spec, []

    def on_token(self, row, token_id):
        return Probe(self.spec) if row.thinking_tokens == 2 and not row.probes_done else Feed()

    def segment_plan(self, row):
        return SegmentPlan(max_tokens=2 - row.thinking_tokens if row.thinking_tokens < 2 else None)

    def on_probe(self, row, result):
        self.results.append(result)
        return Decision(cut=False)


def eat_probe(tokenizer, protocol):
    _, _, engine, args = EatLM.resolve_arguments({"protocol": protocol})
    probe = encode(tokenizer, unescape(args.probe))
    return EatPolicy(args, probe, lambda text: encode(tokenizer, text)).spec, probe, engine.entropy_unit


@pytest.mark.parametrize("loop", ["hf", "segments"])
def test_eat_paper_reads_the_entropy_at_the_official_temperature_whatever_the_run_decodes(tiny_llama, loop):
    """generation_utils.py:178 scores the token after "</think>" at T = 0.6 whatever the run's
    temperature: under greedy decoding too, where the default reads the raw distribution."""
    model, tokenizer = tiny_llama
    entropies = {}
    for protocol in ("paper", "default"):
        spec, probe, unit = eat_probe(tokenizer, protocol)
        policy = ProbeAfterTwo(spec)
        settings = DecodeSettings(max_new_tokens=6, entropy_unit="bits")  # greedy
        if loop == "hf":
            results = run_hf(model, tokenizer, policy, settings)
        else:
            results = run_segments(model, tokenizer, policy, settings, top_k=len(tokenizer))  # the full distribution
        generated = results[0].token_ids[:2]
        keep, ids = in_context(tokenizer, generated, decode(tokenizer, probe))
        logits = next_token_logits(model, encode(tokenizer, PROMPTS[0]) + generated[:keep] + ids)[-1]
        entropies[protocol] = (policy.results[0].entropies[0], logits)
    measured, logits = entropies["paper"]
    assert measured == pytest.approx(float(entropy_from_logits(logits / 0.6, "bits")), abs=1e-3)
    raw, _ = entropies["default"]
    assert raw == pytest.approx(float(entropy_from_logits(logits, "bits")), abs=1e-3)
    assert abs(measured - raw) > 0.01


# --- NoWait (item 9): the paper's ban holds in the answer too ----------------------------------
@pytest.mark.parametrize("loop", ["hf", "segments"])
def test_nowait_paper_bans_its_tokens_in_the_answer_too(tiny_llama, loop):
    """A stand-in end-of-thinking marker (the random model's third greedy token) ends thinking
    after three tokens; the tokens the plain answer uses are then banned. Ours leaves the answer
    as it was; the paper's ban (during inference, no phase named) keeps every one of them out."""
    model, tokenizer = tiny_llama
    run = run_hf if loop == "hf" else run_segments
    plain = run(model, tokenizer, ThinkingPolicy(), DecodeSettings(max_new_tokens=16))
    marker = tokenizer.decode([plain[0].token_ids[2]])
    settings = DecodeSettings(max_new_tokens=16, think_end=marker)
    thinking, answer = plain[0].token_ids[:3], plain[0].token_ids[3:]
    banned = set(answer) - set(thinking)
    assert banned
    ban_in_answer = NoWaitLM.resolve_arguments({"protocol": "paper"})[3].ban_in_answer
    paper = run(model, tokenizer, NoWaitPolicy(banned, ban_in_answer=ban_in_answer), settings)[0]
    ours = run(model, tokenizer, NoWaitPolicy(banned), settings)[0]
    assert paper.closed_by == ours.closed_by == "model"
    assert paper.token_ids[:3] == ours.token_ids[:3] == thinking
    assert ours.token_ids[3:] == answer and not banned & set(paper.token_ids[3:])


# --- s1 (item 9): the answer gets max_gen_toks of its own after the close ----------------------
@pytest.mark.parametrize("loop", ["hf", "segments"])
def test_s1_paper_answer_gets_max_gen_toks_after_the_close(tiny_llama, loop):
    """vllm_causallms.py:414 sends the answer request with max_tokens = max_gen_toks, whatever the
    thinking used; ours gives the answer what the thinking left."""
    model, tokenizer = tiny_llama
    run = run_hf if loop == "hf" else run_segments
    answered = {}
    for protocol in ("paper", "default"):
        _, _, engine, args = BudgetLM.resolve_arguments({"protocol": protocol, "thinking_budget": 10})
        policy = BudgetPolicy(args.thinking_budget, unescape(args.answer_prefix), unescape(engine.close_text), args.close_newline,
                              args.answer_tokens)
        settings = DecodeSettings(max_new_tokens=24, close_text=unescape(engine.close_text))
        result = run(model, tokenizer, policy, settings)[0]
        forced = len(result.forced["ids"]) - result.forced["rollback"]  # answer tokens the close added
        assert result.cut_position == 10 and forced > 0
        answered[protocol] = (result.kinds.count("answer") - forced, forced)
    assert answered["paper"][0] == 24
    assert answered["default"][0] == max(0, 24 - 10 - answered["default"][1])
