"""Rows streamed into vLLM's running engine, request by request (issue 29).

`LLM.generate` is a barrier: it adds a batch, steps the engine until every request of it is done,
and returns. Driven that way, a row that stops at a trigger waits for the slowest row's segment,
and its probe and the continuation after it are each one more round for the whole batch (3× the
wall time of vanilla in bench/RESULTS.md, for probes of 4 tokens). Here a request is added the
moment its row needs it (`LLM.enqueue`: the same rendering and validation as `generate`, final
outputs only), and the engine is stepped (`LLMEngine.step`, what `generate` itself loops on)
until some request finishes. Continuous batching then schedules a probe alongside the other
rows' decoding, and with prefix caching its context costs no prefill: a probe of p tokens costs
about p decode steps of one more sequence in the batch. A request no longer wanted (the loop's
speculative continuation after a probe that cut) is aborted in the engine, which frees its
sequence at once.
"""

from __future__ import annotations

from cotbench.errors import CotbenchError

from ...loop.segments import Segment, SegmentRequest


class EngineStream:
    """`SegmentStream` on one `vllm.LLM`: `enqueue` to submit, `llm_engine.step` to wait."""

    concurrent = True

    def __init__(self, backend):
        """`backend`: the `VLLMBackend` whose prompts, sampling params and segments these are."""
        self.backend, self.llm = backend, backend.llm
        self.in_flight: dict[str, tuple[int, SegmentRequest]] = {}  # vLLM's request id -> (key, request)

    @staticmethod
    def supported(llm) -> bool:
        """vLLM's request-level interface: `enqueue` (vLLM >= 0.11) and the engine's `step`."""
        return callable(getattr(llm, "enqueue", None)) and callable(getattr(getattr(llm, "llm_engine", None), "step", None))

    @staticmethod
    def external_id(request_id: str) -> str:
        """The id a `RequestOutput` carries for a request `enqueue` named: vLLM appends "-<random>"
        to its counter for the engine's internal id, and outputs carry the counter."""
        return request_id.split("-", 1)[0]

    def submit(self, key: int, request: SegmentRequest) -> None:
        [request_id] = self.llm.enqueue([self.backend.prompt(request)], [self.backend.sampling_params(request)], use_tqdm=False)
        self.in_flight[self.external_id(request_id)] = (key, request)

    def cancel(self, key: int) -> None:
        """Abort the request in the engine; an output it still gives is not ours any more (dropped).
        `abort_request` takes the id outputs carry (vLLM maps it to its internal "<id>-<random>")."""
        request_id = next((request_id for request_id, (owner, _) in self.in_flight.items() if owner == key), None)
        if request_id is not None:
            del self.in_flight[request_id]
            self.llm.llm_engine.abort_request([request_id])

    def finished(self) -> list[tuple[int, Segment]]:
        engine = self.llm.llm_engine
        while True:
            done = []
            for output in engine.step():
                if output.finished and output.request_id in self.in_flight:
                    key, request = self.in_flight.pop(output.request_id)
                    done.append((key, self.backend.segment(request, output.outputs[0], getattr(output, "num_cached_tokens", None))))
            if done:
                return done
            if not engine.has_unfinished_requests():
                raise CotbenchError(f"vLLM's engine finished without answering {len(self.in_flight)} request(s) of this run")

    def close(self) -> None:
        if self.in_flight:
            self.llm.llm_engine.abort_request(list(self.in_flight))
            self.in_flight = {}
