"""The row rules both thinking loops share (`row.py`), and the two loops agreeing on them.

The parity half runs the HF engine and the segment loop (on a test backend over the same HF
model, `hf_segment_backend.py`) with every option both accept set — `answer_budget`, a
custom `close_text`, `stop_strings`, `think_end`, `entropy_unit` — and checks that the
outputs, accounting and records are the same. Sampling options (`do_sample`, `temperature`,
`top_p`, `seed`) cannot be compared sample for sample (the loops draw from different random
streams); that they reach the backend is tested with the decoding settings.
"""

import pytest
from hf_segment_backend import HFSegmentBackend, StreamingHFSegmentBackend

from cotbench.cot_methods.loop.hf_engine import ThinkingEngine
from cotbench.cot_methods.loop.row import CLOSE_CUT_REASON, PROBE_CUT_REASON, DecodeSettings, Forced, Row
from cotbench.cot_methods.loop.segment_loop import SegmentThinkingLoop
from cotbench.cot_methods.policy import CloseThinking, Decision, Feed, Probe, ProbeResult, ProbeSpec, SegmentPlan, ThinkingPolicy

PROMPTS = ["The capital of France is", "Once upon a time, in a small village by the sea, there lived", "1 + 1 ="]
CLOSE_TEXT = "\nOK, done.</think>\n\n"
BUDGET = 5


class Words:
    """Enough of a tokenizer for the rules: one id per word."""

    def encode(self, text, add_special_tokens=False):
        return list(range(len(text.split())))

    def decode(self, ids, **kwargs):
        return " ".join("w" for _ in ids)


class Scripted(ThinkingPolicy):
    def __init__(self, action=None, decision=None):
        self.action, self.decision = action or Feed(), decision or Decision(cut=False)

    def on_token(self, row, token_id):
        return self.action

    def on_probe(self, row, result):
        return self.decision


def _row(thinking=10):
    row = Row(index=0, max_new_tokens=100)
    row.thinking_tokens = thinking
    return row


def _view(row):
    return row.view("Wait", 7, lambda: "")


# -- the rules, without a model ---------------------------------------------------------------
def test_answer_budget_limits_the_answer_only_after_a_methods_cut():
    settings = DecodeSettings(max_new_tokens=100, answer_budget=BUDGET, close_text="a b c")
    cut = _row()
    forced = cut.decide(Scripted(CloseThinking("budget")), _view(cut), 7, settings, Words())
    assert isinstance(forced, Forced) and forced.ids == [0, 1, 2]
    assert cut.answer_tokens == 3 and cut.room(settings) == BUDGET  # the forced text is not part of the budget
    cut.answer_tokens += 2
    assert cut.room(settings) == BUDGET - 2
    model = _row()
    model.model_closed()
    assert model.room(settings) == 100 - 10  # the model's own answer: only max_new_tokens limits it


def test_a_cut_without_a_reason_is_recorded_the_same_way_from_either_source():
    settings = DecodeSettings(max_new_tokens=100)
    closed = _row()
    closed.decide(Scripted(CloseThinking("")), _view(closed), 7, settings, Words())
    probed = _row()
    result = ProbeResult([0.1], [0.9], [3], "21}")
    forced = probed.probed(Scripted(decision=Decision(cut=True, score=0.1)), _view(probed), result, settings, Words())
    assert (closed.cut_reason, closed.closed_by, closed.cut_position) == (CLOSE_CUT_REASON, "method", 10)
    assert (probed.cut_reason, probed.closed_by, probed.cut_position) == (PROBE_CUT_REASON, "method", 10)
    assert isinstance(forced, Forced) and probed.probes == [
        {"position": 10, "trigger": "Wait", "entropies": [0.1], "max_probs": [0.9], "probe_text": "21}", "score": 0.1, "decision": "cut"}
    ]


def test_a_final_text_ends_the_row_and_forced_text_past_the_limit_ends_it_too():
    final = _row()
    final.decide(Scripted(CloseThinking("sure", final_text="x y")), _view(final), 7, DecodeSettings(max_new_tokens=100), Words())
    assert (final.finish_reason, final.answer_tokens) == ("final", 2)
    full = _row(thinking=99)
    full.decide(Scripted(CloseThinking("late")), _view(full), 7, DecodeSettings(max_new_tokens=100, close_text="a b"), Words())
    assert full.finish_reason == "length" and full.answer_tokens == 2  # written whole, then stopped


def test_a_probe_that_continues_closes_nothing():
    row = _row()
    assert row.probed(Scripted(), _view(row), ProbeResult([0.5], [0.5], [1], "x"), DecodeSettings(max_new_tokens=9), Words()) is None
    assert row.closed_by is None and row.probes[0]["decision"] == "continue"


# -- the two loops on the same model, every shared option set ------------------------------------
class ProbeEvery(ThinkingPolicy):
    """Probes every `every` thinking tokens; cuts (giving no reason) at probe `cut_at`."""

    def __init__(self, prefix_ids, every, cut_at):
        self.spec, self.every, self.cut_at = ProbeSpec(tuple(prefix_ids), 3), every, cut_at

    def _due(self, row):
        return row.thinking_tokens and row.thinking_tokens % self.every == 0 and row.state.get("at") != row.thinking_tokens

    def on_token(self, row, token_id):
        if self._due(row):
            row.state["at"] = row.thinking_tokens
            return Probe(self.spec)
        return Feed()

    def on_probe(self, row, result):
        return Decision(cut=row.probes_done + 1 >= self.cut_at, score=result.entropies[0])

    def segment_plan(self, row):
        return SegmentPlan(max_tokens=0 if self._due(row) else self.every - row.thinking_tokens % self.every)


class CloseAt(ThinkingPolicy):
    def __init__(self, n):
        self.n = n

    def on_token(self, row, token_id):
        return CloseThinking("", answer_prefix="Final Answer:") if row.thinking_tokens >= self.n else Feed()

    def segment_plan(self, row):
        return SegmentPlan(max_tokens=max(0, self.n - row.thinking_tokens))


def _output(text, settings):
    for stop in settings.stop_strings:
        text = text.split(stop)[0]
    return text


@pytest.fixture(scope="module")
def loops(tiny_llama):
    model, tokenizer = tiny_llama
    engine = ThinkingEngine(model, tokenizer)
    prompts = [tokenizer.encode(p, add_special_tokens=False) for p in PROMPTS]
    free = [r.token_ids for r in engine.run(prompts, DecodeSettings(max_new_tokens=30), ThinkingPolicy())]
    # The model closes its own thinking at the 7th token it writes in row 0, and a stop string
    # it writes late in row 1 ends that row: both loops must see them the same way.
    think_end, stop = engine.decode(free[0][6:7]), engine.decode(free[1][24:26])
    settings = DecodeSettings(max_new_tokens=30, think_end=think_end, close_text=CLOSE_TEXT, answer_budget=BUDGET,
                              stop_strings=(stop,), entropy_unit="bits", eos_token_ids=frozenset({tokenizer.eos_token_id}))

    def run(policy, backend_class):
        hf = engine.run(prompts, settings, policy, row_seeds=[0, 1, 2])
        loop = SegmentThinkingLoop(backend_class(model, tokenizer), tokenizer, top_k=len(tokenizer))
        segment = loop.run(PROMPTS, settings, policy, [0, 1, 2])
        return [(r, engine.decode(r.token_ids)) for r in hf], segment

    return run, settings, tokenizer


@pytest.mark.parametrize("backend_class", [HFSegmentBackend, StreamingHFSegmentBackend], ids=["rounds", "streamed"])
@pytest.mark.parametrize("name", ["vanilla", "probe_then_cut", "close_at"])
def test_both_loops_agree_with_every_shared_option_set(loops, name, backend_class):
    """In rounds, and streamed in any order with a speculative continuation beside each probe."""
    run, settings, tokenizer = loops
    prefix = tokenizer.encode(" so the answer is", add_special_tokens=False)
    policy = {"vanilla": ThinkingPolicy(), "probe_then_cut": ProbeEvery(prefix, every=3, cut_at=2), "close_at": CloseAt(5)}[name]
    hf, segment = run(policy, backend_class)
    for (hf_result, hf_text), (seg_result, seg_text) in zip(hf, segment):
        assert _output(seg_text, settings) == _output(hf_text, settings)
        assert seg_result.kinds == hf_result.kinds
        assert seg_result.token_ids == hf_result.token_ids  # the same ids fed, forced text included
        assert seg_result.forced == hf_result.forced
        for key in ("finish_reason", "closed_by", "cut_position", "cut_reason", "probe_tokens"):
            assert getattr(seg_result, key) == getattr(hf_result, key), key
        assert [(p["position"], p["decision"]) for p in seg_result.probes] == [(p["position"], p["decision"]) for p in hf_result.probes]
        assert [p["score"] for p in seg_result.probes] == pytest.approx([p["score"] for p in hf_result.probes], abs=1e-4)
    results = [r for r, _ in hf]
    if name == "vanilla":  # the model closed its thinking in row 0 and wrote more than the budget after it
        assert results[0].closed_by == "model" and results[0].kinds.count("answer") > BUDGET
        assert results[1].finish_reason == "stop"
    else:  # each cut row answers exactly its budget after the forced text
        forced_text = CLOSE_TEXT + ("Final Answer:" if name == "close_at" else "")
        cut = [r for r in results if r.closed_by == "method"]
        assert len(cut) == 3 and all(r.finish_reason == "length" for r in cut)
        assert {r.cut_reason for r in cut} == {PROBE_CUT_REASON if name == "probe_then_cut" else CLOSE_CUT_REASON}
        for r in cut:
            added = len(r.forced["ids"]) - r.forced["rollback"]
            assert r.forced["text"].endswith(forced_text) and r.kinds.count("answer") == added + BUDGET
            assert r.token_ids[r.cut_position - r.forced["rollback"] :][: len(r.forced["ids"])] == r.forced["ids"]
