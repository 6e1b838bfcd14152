"""Decoding parity between methods and baselines: top_k, min_p, presence_penalty and
repetition_penalty are accepted from gen_kwargs, applied by the HF engine as vLLM and OpenAI
define them, carried to vLLM's SamplingParams and the OpenAI request body, and recorded."""

import math
import sys
import types
from types import SimpleNamespace

import pytest
import torch

from cotbench.cot_methods.backends.openai import OpenAICompletionsBackend
from cotbench.cot_methods.loop.hf_engine import ThinkingEngine, penalize, sampling_warpers
from cotbench.cot_methods.loop.row import DecodeSettings
from cotbench.cot_methods.loop.segment_loop import SegmentThinkingLoop
from cotbench.cot_methods.loop.segments import Segment, SegmentRequest
from cotbench.cot_methods.policy import ThinkingPolicy
from cotbench.errors import CotbenchError

PROBS = torch.tensor([0.5, 0.3, 0.15, 0.05])
LOGITS = PROBS.log()
SETTINGS = dict(top_k=20, min_p=0.05, presence_penalty=0.5, repetition_penalty=1.1)


def _warped(**settings):
    probs = torch.softmax(sampling_warpers(DecodeSettings(max_new_tokens=1, do_sample=True, **settings))(None, LOGITS[None].clone())[0], -1)
    return probs.tolist()


def test_top_k_keeps_the_k_most_likely_tokens():
    assert _warped(top_k=2) == pytest.approx([0.5 / 0.8, 0.3 / 0.8, 0, 0])


def test_min_p_drops_tokens_below_a_fraction_of_the_top_probability():
    assert _warped(min_p=0.2) == pytest.approx([0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0])  # 0.05 < 0.2 × 0.5


def test_presence_penalty_subtracts_once_per_token_already_generated():
    out = penalize(LOGITS.clone(), DecodeSettings(max_new_tokens=1, presence_penalty=0.5), [3, 3, 0], [0, 0, 1])
    assert out.tolist() == pytest.approx([math.log(0.5) - 0.5, math.log(0.3) - 0.5, math.log(0.15), math.log(0.05)])


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits_of_seen_tokens():
    logits = torch.tensor([2.0, -2.0, 1.0, 0.5])
    out = penalize(logits.clone(), DecodeSettings(max_new_tokens=1, repetition_penalty=2.0), [0, 1], [])
    assert out.tolist() == pytest.approx([1.0, -4.0, 1.0, 0.5])  # prompt tokens count too, as in vLLM


def test_penalties_and_top_k_act_in_the_engine(smollm2):
    model, tokenizer = smollm2
    engine = ThinkingEngine(model, tokenizer)
    prompt = [tokenizer.encode("Count: 1, 2, 3, 4,", add_special_tokens=False)]
    plain = engine.run(prompt, DecodeSettings(max_new_tokens=10), ThinkingPolicy())[0].token_ids
    assert len(set(plain)) < len(plain)  # counting repeats ", "
    penalised = engine.run(prompt, DecodeSettings(max_new_tokens=10, presence_penalty=2.0, repetition_penalty=50.0), ThinkingPolicy())[0].token_ids
    assert len(set(penalised)) == len(penalised)
    top_1 = DecodeSettings(max_new_tokens=10, do_sample=True, temperature=1.5, top_k=1)
    assert engine.run(prompt, top_1, ThinkingPolicy())[0].token_ids == plain  # top-k 1 sampling is greedy


class Recorder:
    def __init__(self):
        self.requests = []

    def complete(self, requests):
        self.requests += requests
        return [Segment("x", 1, "length", token_ids=[7]) for _ in requests]


def test_segment_requests_carry_the_settings(smollm2):
    _, tokenizer = smollm2
    backend = Recorder()
    settings = DecodeSettings(max_new_tokens=3, do_sample=True, temperature=0.7, top_p=0.9, seed=5, **SETTINGS)
    SegmentThinkingLoop(backend, tokenizer).run(["hi"], settings, ThinkingPolicy(), [0])
    request = backend.requests[0]
    assert (request.top_k, request.min_p, request.presence_penalty, request.repetition_penalty) == (20, 0.05, 0.5, 1.1)
    assert (request.temperature, request.top_p) == (0.7, 0.9)


def test_the_openai_body_carries_them_and_omits_defaults():
    backend = OpenAICompletionsBackend("http://127.0.0.1:1/v1", "m", session=object())
    body = backend.payload(SegmentRequest("hi", 4, **SETTINGS))
    assert {k: body[k] for k in SETTINGS} == SETTINGS
    plain = backend.payload(SegmentRequest("hi", 4))
    assert not set(SETTINGS) & set(plain)  # a strict server never sees an option it may not know


def test_vllm_sampling_params_carry_them(monkeypatch):
    vllm = types.ModuleType("vllm")
    vllm.SamplingParams = lambda **kwargs: SimpleNamespace(**kwargs)
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    from cotbench.cot_methods.backends.vllm.backend import VLLMBackend

    params = VLLMBackend(llm=None).sampling_params(SegmentRequest("hi", 4, temperature=0.6, **SETTINGS))
    assert {k: getattr(params, k) for k in SETTINGS} == SETTINGS


def test_gen_kwargs_reach_the_settings_and_the_record(smollm2_path):
    from cotbench.cot_methods.methods.vanilla import VanillaLM

    lm = VanillaLM(pretrained="smollm2-135m", device="cpu", batch_size=1)
    settings = lm._settings({"max_gen_toks": 4, "temperature": 0.6, **SETTINGS})
    assert (settings.top_k, settings.min_p, settings.presence_penalty, settings.repetition_penalty) == (20, 0.05, 0.5, 1.1)
    [text] = lm.generate_until([SimpleNamespace(args=("1 + 1 =", {"max_gen_toks": 4, "temperature": 0.6, **SETTINGS}))], disable_tqdm=True)
    decoding = text.cotbench.adapter["decoding"]
    assert {k: decoding[k] for k in SETTINGS} == SETTINGS and decoding["temperature"] == 0.6
    for bad, value in (("top_k", -1), ("min_p", 1.5), ("repetition_penalty", 0), ("presence_penalty", 3)):
        with pytest.raises(CotbenchError, match=bad):
            lm._settings({"max_gen_toks": 4, bad: value})
