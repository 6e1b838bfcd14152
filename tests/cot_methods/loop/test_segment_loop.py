"""The segment loop (vLLM / server backends) against the HF engine on the same model: with
greedy decoding and a backend that returns the full distribution, every method makes the
same decisions at the same positions and writes the same ids, forced text included (both
loops tokenise it in context, row.py); with top-k logprobs the entropy bracket holds."""

import pytest
from hf_segment_backend import HFSegmentBackend, StreamingHFSegmentBackend
from transformers import AutoModelForCausalLM, AutoTokenizer

from cotbench.cot_methods.loop.hf_engine import ThinkingEngine
from cotbench.cot_methods.loop.row import DecodeSettings
from cotbench.cot_methods.loop.segment_loop import SegmentThinkingLoop
from cotbench.cot_methods.methods.budget import BudgetPolicy
from cotbench.cot_methods.methods.deer import DeerArgs, DeerPolicy
from cotbench.cot_methods.methods.dynasor import DynasorPolicy
from cotbench.cot_methods.methods.eat import EatArgs, EatPolicy
from cotbench.cot_methods.methods.entrocut import EntroCutArgs, EntroCutPolicy
from cotbench.cot_methods.methods.nowait import NoWaitPolicy
from cotbench.cot_methods.policy import ThinkingPolicy
from cotbench.cot_methods.signals.vocabulary import reflection_token_ids, trigger_token_ids
from cotbench.harness_tasks.arith import evaluation_problems
from cotbench.harness_tasks.utils import doc_to_text_math

MAX_NEW = 260
PROBE = "\n**Final Answer**\n\\boxed{"
ANSWER_BUDGET = 48  # after a method's cut only (row.py); the model's own answers run to MAX_NEW


@pytest.fixture(scope="module")
def testbed(arith_testbed):
    tokenizer = AutoTokenizer.from_pretrained(arith_testbed)
    model = AutoModelForCausalLM.from_pretrained(arith_testbed).eval()
    problems = evaluation_problems("easy")[:3] + evaluation_problems("medium")[:2]
    prompts = [
        tokenizer.apply_chat_template([{"role": "user", "content": doc_to_text_math({"problem": p.text})}], tokenize=False, add_generation_prompt=True)
        for p in problems
    ]
    return model, tokenizer, prompts


def policies(tokenizer):
    encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    waits = trigger_token_ids(tokenizer, ["Wait"], "test")
    entrocut_args = EntroCutArgs(threshold=0.2, min_thinking_tokens=0)
    return {
        "vanilla": ThinkingPolicy(),
        "budget": BudgetPolicy(40, "Final Answer:"),
        "nowait": NoWaitPolicy(reflection_token_ids(tokenizer, ["wait"])),
        "entrocut": EntroCutPolicy(entrocut_args, waits, encode(PROBE), 0.2),
        "deer": DeerPolicy(DeerArgs(threshold=0.9), waits, encode("\n**Final Answer**\n\\boxed"), lambda t: tokenizer.decode([t])),
        "dynasor": DynasorPolicy(2, 32, encode("... Oh, I suddenly got the answer to the whole problem, **Final Answer**\n\n\\[ \\boxed{"), 8, "</think>"),
        "eat": EatPolicy(EatArgs(variance_threshold=1e-2, min_steps=3), encode("\n</think>\n\n")),
        # The official rules protocol=paper selects (greedy probes, so that both loops draw alike).
        "deer_paper": DeerPolicy(DeerArgs(threshold=0.9, confidence_probs="sampled", limit_rule="next_trigger"), waits,
                                 encode("\n**Final Answer**\n\\boxed"), lambda t: tokenizer.decode([t])),
        "dynasor_paper": DynasorPolicy(2, 32, encode("... Oh, I suddenly got the answer to the whole problem, **Final Answer**\n\n\\[ \\boxed{"),
                                       8, "</think>", probe_at_start=True, exit_after_chunk=True),
        "eat_paper": EatPolicy(EatArgs(variance_threshold=1e-2, min_steps=3, stop_check="official", entropy_at_sampling_temperature=True,
                                       entropy_temperature=0.6), encode("\n</think>\n\n")),
        "budget_paper": BudgetPolicy(40, "Final Answer:", "\n</think>\n\n", "if_missing", "max_gen_toks"),
        "nowait_paper": NoWaitPolicy(reflection_token_ids(tokenizer, ["wait"]), ban_in_answer=True),
    }


def run_both(testbed, policy, top_k, backend_class=HFSegmentBackend):
    model, tokenizer, prompts = testbed
    engine = ThinkingEngine(model, tokenizer)
    decode = DecodeSettings(max_new_tokens=MAX_NEW, eos_token_ids=frozenset({tokenizer.eos_token_id}), answer_budget=ANSWER_BUDGET,
                            stop_strings=("Question:",))
    hf = engine.run([tokenizer.encode(p, add_special_tokens=False) for p in prompts], decode, policy, row_seeds=list(range(len(prompts))))
    backend = backend_class(model, tokenizer)
    loop = SegmentThinkingLoop(backend, tokenizer, top_k)
    segment = loop.run(prompts, decode, policy, list(range(len(prompts))))
    return [(r, engine.decode(r.token_ids)) for r in hf], segment, backend


@pytest.mark.parametrize("backend_class", [HFSegmentBackend, StreamingHFSegmentBackend], ids=["rounds", "streamed"])
@pytest.mark.parametrize("name", ["vanilla", "budget", "nowait", "entrocut", "deer", "dynasor", "eat", "deer_paper", "dynasor_paper",
                                  "eat_paper", "budget_paper", "nowait_paper"])
def test_same_decisions_and_text_as_the_hf_engine(testbed, name, backend_class):
    """In rounds (a batch-only backend) and streamed in any order with speculative continuations."""
    _, tokenizer, _ = testbed
    policy = policies(tokenizer)[name]
    hf, segment, _ = run_both(testbed, policy, len(tokenizer), backend_class)  # the full distribution: exact entropies
    assert_same_rows(hf, segment)
    probes = [probe for r, _ in segment for probe in r.probes]
    if backend_class is HFSegmentBackend:  # in rounds a continuation sent with its probe would only add tokens: none is
        assert not any("speculation" in probe for probe in probes)
    else:  # every probe went out with one, and every row that went on used it
        assert all(probe["speculation"]["used"] == (probe["decision"] == "continue") for probe in probes)
    if name in ("budget", "entrocut", "deer", "nowait", "budget_paper", "dynasor_paper"):
        assert any(r.closed_by == "method" for r, _ in hf) or name == "nowait"


@pytest.mark.parametrize("name", ["entrocut", "deer_paper", "dynasor_paper"])
def test_rows_that_advance_out_of_step_make_the_same_rows(testbed, name):
    """No barrier between rows (issue 29): a row sends its next request (probe, continuation) as
    soon as its last returns, a probe goes out with its speculative continuation, and the backend
    answers in any order; every row still decides and writes what the HF engine does, because
    each request carries its row's own seed and a speculation is used only where it is the
    request the row sends."""
    _, tokenizer, _ = testbed
    hf, segment, backend = run_both(testbed, policies(tokenizer)[name], len(tokenizer), StreamingHFSegmentBackend)
    assert backend.last_stream.overtaken()  # some row went two requests ahead of a row still waiting
    assert_same_rows(hf, segment)
    probes = [p for r, _ in segment for p in r.probes]
    assert probes and all(p["speculation"] == {"used": True} for p in probes if p["decision"] == "continue")
    if name == "entrocut":
        assert {p["decision"] for p in probes} == {"cut", "continue"}


@pytest.mark.parametrize("speculation", ["first", "last"])
def test_a_probe_goes_out_with_its_continuation_which_a_cut_drops(testbed, speculation):
    """Speculation (issue 29): a probe and the continuation the row sends if the policy goes on
    go out together, so the continuation decodes while the probe does. On a cut it is cancelled
    while it decodes ("last": the stream answers it after everything else) or its answer, back
    before the decision ("first"), is dropped; the rows are the HF engine's either way."""
    _, tokenizer, _ = testbed
    hf, segment, backend = run_both(testbed, policies(tokenizer)["entrocut"], len(tokenizer),
                                    lambda model, tokenizer: StreamingHFSegmentBackend(model, tokenizer, speculation))
    assert_same_rows(hf, segment)
    events = backend.last_stream.events
    probes_sent = [(at, key) for at, (kind, key, request) in enumerate(events) if kind == "submit" and key >= 0 and request.top_logprobs]
    assert probes_sent and all(events[at + 1][:2] == ("submit", ~key) for at, key in probes_sent)  # before the probe's answer
    probes = [p for r, _ in segment for p in r.probes]
    assert len(probes) == len(probes_sent) and {p["decision"] for p in probes} == {"cut", "continue"}
    for probe in probes:
        if probe["decision"] == "continue":
            assert probe["speculation"] == {"used": True}
        else:
            discarded = probe["speculation"]["discarded_tokens"]
            assert probe["speculation"]["used"] is False and (discarded is None if speculation == "last" else discarded >= 0)
    cancelled = sum(kind == "cancel" for kind, _, _ in events)
    assert cancelled == (sum(p["decision"] == "cut" for p in probes) if speculation == "last" else 0)


def assert_same_rows(hf, segment):
    for (hf_result, hf_text), (seg_result, seg_text) in zip(hf, segment, strict=True):
        assert seg_result.closed_by == hf_result.closed_by and seg_result.cut_position == hf_result.cut_position
        assert [p["decision"] for p in seg_result.probes] == [p["decision"] for p in hf_result.probes]
        assert [p["position"] for p in seg_result.probes] == [p["position"] for p in hf_result.probes]
        assert seg_result.token_ids == hf_result.token_ids and seg_result.kinds == hf_result.kinds
        assert seg_text == hf_text and seg_result.forced == hf_result.forced


def test_top_k_estimates_bracket_the_engine_entropies(testbed):
    _, tokenizer, _ = testbed
    policy = policies(tokenizer)["entrocut"]
    hf, segment, _ = run_both(testbed, policy, top_k=3)
    checked = 0
    for (hf_result, _), (seg_result, _) in zip(hf, segment):
        for hf_probe, seg_probe in zip(hf_result.probes, seg_result.probes):
            if hf_probe["position"] != seg_probe["position"]:
                break
            bracket = seg_probe["entropy_estimate"]
            assert bracket["top_k"] == 3 and bracket["estimator"] == "tail_as_one"
            for exact, low, high in zip(hf_probe["entropies"], bracket["lower"], bracket["upper"]):
                assert low - 1e-4 <= exact <= high + 1e-4
                checked += 1
    assert checked >= 4


def test_dynasor_paper_exit_keeps_the_chunk_alongside_the_agreeing_probe(testbed):
    """Official cot.py: the exit comes after the chunk generated alongside the agreeing probe, so
    an early exit's thinking is one chunk longer than the probe position, on both loops."""
    model, tokenizer, prompts = testbed
    probe = tokenizer.encode("... Oh, I suddenly got the answer to the whole problem, **Final Answer**\n\n\\[ \\boxed{", add_special_tokens=False)
    at_probe = DynasorPolicy(2, 16, probe, 8, "</think>", probe_at_start=True)
    after_chunk = DynasorPolicy(2, 16, probe, 8, "</think>", probe_at_start=True, exit_after_chunk=True)
    engine = ThinkingEngine(model, tokenizer)
    decode = DecodeSettings(max_new_tokens=MAX_NEW, eos_token_ids=frozenset({tokenizer.eos_token_id}))
    ids = [tokenizer.encode(p, add_special_tokens=False) for p in prompts]
    early = engine.run(ids, decode, at_probe, row_seeds=list(range(len(prompts))))
    late = engine.run(ids, decode, after_chunk, row_seeds=list(range(len(prompts))))
    segment = SegmentThinkingLoop(HFSegmentBackend(model, tokenizer), tokenizer, len(tokenizer)).run(prompts, decode, after_chunk,
                                                                                                   list(range(len(prompts))))
    exits = 0
    for e, lt, (s, _) in zip(early, late, segment):
        if e.finish_reason == "final" and lt.finish_reason == "final":
            exits += 1
            assert lt.cut_position == e.cut_position + 16 == lt.probes[-1]["position"] + 16
            assert lt.kinds.count("thinking") == lt.cut_position and lt.token_ids[: e.cut_position] == e.token_ids[: e.cut_position]
            assert lt.forced["text"].endswith(e.forced["text"][-12:])  # the same final answer, one chunk later
        assert s.cut_position == lt.cut_position and s.token_ids == lt.token_ids
    assert exits
