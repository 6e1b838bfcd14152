"""Speculative continuations in the segment loop (issue 29): a probe goes out with the request its
row sends if the policy goes on. They change the wall time only: with sampling (each request
draws from its own seed), a policy whose probe answers sometimes ask for what the speculation
could not foresee, and streams that answer in any order, every row and record is the loop's
without speculation. The parity with the HF engine is in test_segment_loop.py."""

import pytest
from hf_segment_backend import StreamingHFSegmentBackend

from cotbench.cot_methods.loop.row import DecodeSettings
from cotbench.cot_methods.loop.segment_loop import SegmentThinkingLoop
from cotbench.cot_methods.loop.segments import RoundStream, Segment, SegmentRequest
from cotbench.cot_methods.policy import Decision, Feed, Probe, ProbeSpec, SegmentPlan, ThinkingPolicy

PROMPTS = ["The capital of France is", "Once upon a time, in a small village by the sea, there lived", "1 + 1 ="]


class ProbeTwiceThenCut(ThinkingPolicy):
    """Probes every `every` thinking tokens, twice in each place: the first probe's answer asks for
    the second, which the speculative continuation sent with it cannot foresee (a probe's answer is
    not known when it goes out). Cuts after the second probe of place `cut_at`."""

    def __init__(self, prefix_ids, every: int, cut_at: int):
        self.spec, self.every, self.cut_at = ProbeSpec(tuple(prefix_ids), 3), every, cut_at

    def _due(self, row):
        n = row.thinking_tokens
        return row.state.get("again") or (n and n % self.every == 0 and row.state.get("at") != n)

    def on_token(self, row, token_id):
        if self._due(row):
            row.state["at"], row.state["again"] = row.thinking_tokens, False
            return Probe(self.spec)
        return Feed()

    def on_probe(self, row, result):
        if row.probes_done % 2 == 0:  # the first in this place: probe again
            row.state["again"] = True
            return Decision(cut=False)
        return Decision(cut=row.probes_done + 1 >= 2 * self.cut_at, score=result.entropies[0])

    def segment_plan(self, row):
        return SegmentPlan(max_tokens=0 if self._due(row) else self.every - row.thinking_tokens % self.every)


@pytest.mark.parametrize("speculation", ["any", "together", "first", "last"])
def test_speculation_changes_no_row_and_no_record(tiny_llama, speculation):
    model, tokenizer = tiny_llama
    settings = DecodeSettings(max_new_tokens=40, do_sample=True, temperature=1.0, eos_token_ids=frozenset({tokenizer.eos_token_id}))
    policy = ProbeTwiceThenCut(tokenizer.encode(" so the answer is", add_special_tokens=False), every=4, cut_at=3)
    plain = SegmentThinkingLoop(StreamingHFSegmentBackend(model, tokenizer), tokenizer, speculate=False).run(PROMPTS, settings, policy, [0, 1, 2])
    backend = StreamingHFSegmentBackend(model, tokenizer, speculation)
    speculated = SegmentThinkingLoop(backend, tokenizer).run(PROMPTS, settings, policy, [0, 1, 2])
    outcomes = []
    for (expected, expected_text), (result, text) in zip(plain, speculated, strict=True):
        outcomes += [(probe["decision"], probe.pop("speculation")["used"]) for probe in result.probes]
        assert text == expected_text and result == expected  # the records too, once the speculation field is out
    # Each kind happened: the continuation used, dropped because the policy asked for another
    # probe, and dropped on a cut.
    assert {("continue", True), ("continue", False), ("cut", False)} == set(outcomes)
    assert sum(kind == "submit" and key < 0 for kind, key, _ in backend.last_stream.events) == len(outcomes)


def test_rounds_leave_a_cancelled_request_out_of_the_next_round():
    class Echo:
        def complete(self, requests):
            self.sent = [request.prompt for request in requests]
            return [Segment(request.prompt, 1, "length") for request in requests]

    backend = Echo()
    stream = RoundStream(backend)
    stream.submit(0, SegmentRequest("probe", 4))
    stream.submit(-1, SegmentRequest("continuation", 8))
    stream.cancel(-1)
    assert not stream.concurrent and [key for key, _ in stream.finished()] == [0] and backend.sent == ["probe"]
