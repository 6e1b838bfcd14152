"""Rows streamed into vLLM's engine (issue 29), on a stand-in with vLLM's request-level interface:
`enqueue` returns the engine's internal id ("<counter>-<random>") while outputs carry the counter,
and a request finishes after as many engine steps as it has tokens to generate. The real engine
runs in tests/cot_methods/backends/test_server_backend.py (`backend=vllm`)."""

from types import SimpleNamespace

import pytest

from cotbench.cot_methods.backends.vllm.stream import EngineStream
from cotbench.cot_methods.loop.segments import Segment, SegmentRequest
from cotbench.errors import CotbenchError


class SteppedEngine:
    def __init__(self):
        self.running: dict[str, list] = {}  # external id -> [steps left, prompt]
        self.steps, self.aborted = 0, []

    def step(self):
        self.steps += 1
        done = []
        for request_id, state in list(self.running.items()):
            state[0] -= 1
            if state[0] <= 0:
                del self.running[request_id]
                done.append(SimpleNamespace(request_id=request_id, finished=True, num_cached_tokens=3,
                                            outputs=[SimpleNamespace(text=f"answer to {state[1]}")]))
        return done

    def has_unfinished_requests(self):
        return bool(self.running)

    def abort_request(self, request_ids):
        self.aborted += request_ids
        for request_id in request_ids:
            self.running.pop(request_id, None)


class SteppedLLM:
    def __init__(self):
        self.llm_engine, self.counter = SteppedEngine(), 0

    def enqueue(self, prompts, params, use_tqdm=False):
        ids = []
        for prompt, tokens in zip(prompts, params):
            self.llm_engine.running[str(self.counter)] = [tokens, prompt]
            ids.append(f"{self.counter}-1a2b3c4d")
            self.counter += 1
        return ids


class StubBackend:
    """What `EngineStream` asks of `VLLMBackend`: the prompt, the sampling params, the segment."""

    def __init__(self):
        self.llm = SteppedLLM()

    @staticmethod
    def prompt(request):
        return request.prompt

    @staticmethod
    def sampling_params(request):
        return request.max_tokens  # the stand-in's "params": how many steps the request takes

    @staticmethod
    def segment(request, completion, cached_tokens=None):
        return Segment(completion.text, request.max_tokens, "length", cached_tokens=cached_tokens)


def test_a_short_request_comes_back_while_a_long_one_decodes():
    backend = StubBackend()
    stream = EngineStream(backend)
    assert EngineStream.supported(backend.llm)
    stream.submit(0, SegmentRequest("a long segment", 10))
    stream.submit(1, SegmentRequest("row 1's segment", 2))
    [(key, segment)] = stream.finished()
    assert key == 1 and segment.text == "answer to row 1's segment" and segment.cached_tokens == 3
    stream.submit(1, SegmentRequest("row 1's probe", 3))  # joins the running batch at once
    [(key, segment)] = stream.finished()
    assert key == 1 and segment.text == "answer to row 1's probe"
    assert backend.llm.llm_engine.steps == 5  # 2 + 3 steps: the probe never waited for the long segment
    stream.close()
    assert backend.llm.llm_engine.aborted == ["0"] and not backend.llm.llm_engine.running  # nothing left in the engine


def test_a_cancelled_request_is_aborted_in_the_engine_and_never_answered():
    """The loop's speculative continuation after a probe that cut (issue 29): the engine stops
    decoding it at once, and an output it gave anyway is not returned."""
    backend = StubBackend()
    engine = backend.llm.llm_engine
    stream = EngineStream(backend)
    stream.submit(0, SegmentRequest("row 0's probe", 2))
    stream.submit(-1, SegmentRequest("row 0's speculative continuation", 4))
    stream.submit(1, SegmentRequest("row 1's segment", 6))
    [(key, _)] = stream.finished()
    assert key == 0
    stream.cancel(-1)
    stream.cancel(5)  # a key not in flight: nothing to do
    assert engine.aborted == ["1"] and "1" not in engine.running  # the id outputs carry: vLLM maps it to its own
    [(key, segment)] = stream.finished()
    assert key == 1 and segment.text == "answer to row 1's segment" and engine.steps == 6


def test_an_output_of_a_cancelled_request_that_comes_anyway_is_dropped():
    backend = StubBackend()
    engine = backend.llm.llm_engine
    engine.abort_request = lambda request_ids: None  # the engine had finished it before the abort reached it
    stream = EngineStream(backend)
    stream.submit(-1, SegmentRequest("a speculative continuation", 1))
    stream.submit(0, SegmentRequest("row 0's segment", 3))
    stream.cancel(-1)
    assert stream.finished() == [(0, Segment("answer to row 0's segment", 3, "length", cached_tokens=3))]
    assert engine.steps == 3  # the cancelled request's output came out at step 1, and was not ours


def test_an_engine_that_drops_a_request_is_one_line():
    backend = StubBackend()
    stream = EngineStream(backend)
    stream.submit(0, SegmentRequest("lost", 2))
    backend.llm.llm_engine.running.clear()
    with pytest.raises(CotbenchError, match=r"vLLM's engine finished without answering 1 request\(s\) of this run"):
        stream.finished()


def test_an_llm_without_the_request_interface_is_driven_in_rounds():
    assert not EngineStream.supported(SimpleNamespace(generate=lambda *a, **k: []))  # data_parallel.py's front end
