"""A segment backend on a local HF model, written for the tests: the same contract as the
vLLM and OpenAI backends (stop strings cut the text and are reported, top-k logprobs, the
sampled tokens' logprobs, logit bias), so the segment loop can be compared token for token with
the HF engine."""

from __future__ import annotations

import torch

from cotbench.cot_methods.loop.segments import Segment


class HFSegmentBackend:
    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer
        self.requests = []

    @torch.inference_mode()
    def _one(self, request) -> Segment:
        self.requests.append(request)
        prompt_ids = list(request.prompt_ids) if request.prompt_ids is not None else self.tokenizer.encode(request.prompt, add_special_tokens=False)
        ids = torch.tensor([prompt_ids])
        generator = torch.Generator().manual_seed(request.seed or 0)
        out = self.model(ids, use_cache=True)
        past, generated, top, chosen = out.past_key_values, [], [], []
        logits = out.logits[0, -1].float()
        eos = self.tokenizer.eos_token_id
        for _ in range(request.max_tokens):
            for banned in request.banned_ids:
                logits[banned] -= 100.0
            logprobs = torch.log_softmax(logits, dim=-1)
            if request.top_logprobs:
                top.append(torch.topk(logprobs, request.top_logprobs).values.tolist())
            if request.temperature > 0:
                probs = torch.softmax(logits / request.temperature, dim=-1)
                token = int(torch.multinomial(probs, 1, generator=generator))
            else:
                token = int(torch.argmax(logits))
            chosen.append(float(logprobs[token]))
            if token == eos:  # like vLLM: the end token has a position (its logprobs and text), not text
                texts = self._texts([*generated, eos])
                return Segment(self.tokenizer.decode(generated), len(generated), "eos", None, top, texts, generated, chosen)
            generated.append(token)
            text = self.tokenizer.decode(generated)
            hits = [(text.find(stop), stop) for stop in request.stop if stop in text]
            if hits:
                cut, stop = min(hits)
                return Segment(text[:cut], len(generated), "stop", stop, top, self._texts(generated), generated, chosen)
            out = self.model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
            past, logits = out.past_key_values, out.logits[0, -1].float()
        return Segment(self.tokenizer.decode(generated), len(generated), "length", None, top, self._texts(generated), generated, chosen)

    def _texts(self, ids):
        """One text per generated position, as vLLM's `decoded_token` and a server's `logprobs.tokens`."""
        return [self.tokenizer.decode([t]) for t in ids]

    def complete(self, requests):
        return [self._one(request) for request in requests]


class AnyOrderStream:
    """A `SegmentStream` that answers one in-flight request at a time, picked at random (seeded):
    rows advance out of step, as on vLLM's engine or a server, in an order no round would give.
    `speculation`: "any" (a row's speculative continuation, a negative key, is picked like the
    rest), "first" (it is answered before anything else: back before its probe's decision),
    "last" (answered only when nothing else is in flight: still decoding at the decision) or
    "together" (a probe and its continuation are answered in one batch, the one picked first)."""

    concurrent = True

    def __init__(self, backend: HFSegmentBackend, seed: int = 0, speculation: str = "any"):
        import random

        self.backend, self.random, self.speculation = backend, random.Random(seed), speculation
        self.in_flight = []
        self.events = []  # ("submit" | "answer" | "cancel", key, the request), in order

    def submit(self, key, request):
        self.in_flight.append((key, request))
        self.events.append(("submit", key, request))

    def cancel(self, key):
        for k, request in self.in_flight:
            if k == key:
                self.in_flight.remove((k, request))
                self.events.append(("cancel", key, request))
                return

    def finished(self):
        speculative = [i for i, (key, _) in enumerate(self.in_flight) if key < 0]
        others = [i for i in range(len(self.in_flight)) if i not in speculative]
        preferred = {"any": [], "together": [], "first": speculative, "last": others}[self.speculation] or list(range(len(self.in_flight)))
        picked = [self.in_flight.pop(self.random.choice(preferred))]
        if self.speculation == "together":
            picked += [(key, request) for key, request in self.in_flight if key == ~picked[0][0]]
            self.in_flight = [item for item in self.in_flight if item not in picked]
        self.events += [("answer", key, request) for key, request in picked]
        return [(key, self.backend._one(request)) for key, request in picked]

    def overtaken(self) -> bool:
        """Whether some row had two requests answered while another row's one request stayed in
        flight: what a round barrier never allows."""
        waiting: dict = {}  # key -> answers of other rows since its request was submitted
        for kind, key, _ in self.events:
            if kind == "submit":
                waiting[key] = {}
                continue
            waiting.pop(key, None)
            if kind == "cancel":
                continue
            for other in waiting.values():
                other[key] = other.get(key, 0) + 1
                if other[key] >= 2:
                    return True
        return False

    def close(self):
        self.in_flight = []


class StreamingHFSegmentBackend(HFSegmentBackend):
    """The HF segment backend driven request by request (`stream`), in any order."""

    def __init__(self, model, tokenizer, speculation: str = "any"):
        super().__init__(model, tokenizer)
        self.speculation = speculation

    def stream(self):
        self.last_stream = AnyOrderStream(self, speculation=self.speculation)
        return self.last_stream
