"""Segment backend for any OpenAI-compatible server (`vllm serve`, SGLang, llama.cpp's server,
a hosted endpoint): raw-prompt `/v1/completions` with stop strings, top-k `logprobs` and
`logit_bias`.

Raw completions, not chat: the chat template is applied on our side, so a probe appends to
the exact text the model has seen. With `token_ids` (default) prompts go out as token ids and
the server is asked to return the generated ids (`return_token_ids`, vLLM), so a
continuation sees exactly the tokens the model sampled and forced text tokenised in context
(the segment loop's ids, `row.py`); re-tokenised text can split "\n\n" differently and push
a small model off its distribution. Servers that
take only text: `token_ids=false`. Requests of one round go out concurrently (at most
`concurrency` at a time); transient failures (connection errors, timeouts, 408/429/5xx) are
retried with exponential backoff; anything else, or a server still failing after the
retries, is one clear error — and with `journal=` a rerun resumes from the finished samples.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from cotbench.errors import CotbenchError

from .segment_loop import Segment, SegmentRequest

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAICompletionsBackend:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, concurrency: int = 8,
                 timeout_s: float = 600.0, retries: int = 5, backoff_s: float = 1.0, session=None,
                 tokenizer=None):
        import requests

        self.url = base_url.rstrip("/") + "/completions"
        self.model, self.concurrency, self.timeout_s = model, concurrency, timeout_s
        self.retries, self.backoff_s = retries, backoff_s
        self.session = session or requests.Session()
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.send_ids = tokenizer is not None  # token-id prompts (the tokenizer is the loop's)

    def payload(self, request: SegmentRequest) -> dict:
        body = {
            "model": self.model,
            "prompt": list(request.prompt_ids) if self.send_ids and request.prompt_ids is not None else request.prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "n": 1,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if request.top_logprobs:
            body["logprobs"] = request.top_logprobs
        if self.send_ids:
            body["return_token_ids"] = True
        if request.banned_ids:
            body["logit_bias"] = {str(token_id): -100 for token_id in sorted(request.banned_ids)}
        return body

    def _post(self, body: dict) -> dict:
        import requests

        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                response = self.session.post(self.url, json=body, headers=self.headers, timeout=self.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as error:
                failure = f"{type(error).__name__}"
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise CotbenchError(f"{self.url}: the server answered 200 with a body that is not JSON") from None
                if response.status_code not in TRANSIENT_STATUS:
                    raise CotbenchError(f"{self.url}: HTTP {response.status_code}: {response.text[:200].strip()}")
                failure = f"HTTP {response.status_code}"
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise CotbenchError(f"{self.url}: {failure} after {self.retries} retries (the journal keeps finished samples; rerun to resume)")

    def parse(self, data: dict, request: SegmentRequest) -> Segment:
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise CotbenchError(f"{self.url}: malformed completion (no choices): {str(data)[:200]}") from None
        text = choice.get("text") or ""
        reason = choice.get("finish_reason")
        if reason == "stop" and request.stop and "stop_reason" not in choice:
            # "stop" means an end-of-sequence token OR a stop string; only the server can say which.
            raise CotbenchError(
                f"{self.url}: the server does not report which stop string matched (no 'stop_reason' in its "
                "completion choices); use a server that does (vLLM, SGLang)"
            )
        matched = choice.get("stop_reason") if isinstance(choice.get("stop_reason"), str) else None
        finish = "length" if reason == "length" else ("stop" if matched is not None else "eos")
        logprobs = choice.get("logprobs") or {}
        top = [sorted(position.values(), reverse=True) for position in (logprobs.get("top_logprobs") or []) if position]
        tokens = (data.get("usage") or {}).get("completion_tokens")  # includes a matched stop string's tokens
        ids = choice.get("token_ids") if self.send_ids and isinstance(choice.get("token_ids"), list) else None
        return Segment(text, tokens if isinstance(tokens, int) else -1, finish, matched, top, list(logprobs.get("tokens") or []), ids)

    def complete(self, requests: list[SegmentRequest]) -> list[Segment]:
        bodies = [self.payload(r) for r in requests]
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(requests)))) as pool:
            answers = list(pool.map(self._post, bodies))
        return [self.parse(data, request) for data, request in zip(answers, requests)]
