"""Segment backend for any OpenAI-compatible server (`vllm serve`, SGLang, llama.cpp's server,
a hosted endpoint): raw-prompt `/v1/completions` with stop strings, top-k `logprobs` and
`logit_bias`.

Raw completions, not chat: the chat template is applied on our side, so a probe appends to
the exact text the model has seen. With `token_ids` (default) prompts go out as token ids and
the server is asked to return the generated ids (`return_token_ids`, vLLM), so a
continuation sees exactly the tokens the model sampled and forced text tokenised in context
(the segment loop's ids, `row.py`); re-tokenised text can split "\n\n" differently and push
a small model off its distribution. Servers that
take only text: `token_ids=false`. Each row's next request goes out as soon as its last one
returns (`ServerStream`, at most `concurrency` in flight); transient failures (connection errors, timeouts, 408/429/5xx) are
retried with exponential backoff; anything else, or a server still failing after the
retries, ends that row only: its sample is recorded as failed with the reason, the other rows
finish, and with `journal=` a rerun retries the failed ones (finished samples are kept).

Several servers (`base_url=http://a/v1|http://b/v1`: a fleet of `vllm serve` / SGLang servers
behind no router): requests are dealt round-robin over the servers that are up.
A server that refuses or drops a connection, or times out, is marked down and the request goes
at once to the next server that is up, without spending a retry; only when every server is down
are they all tried again after a backoff (a restarted server comes back). A completion request
is idempotent (same prompt, seed and settings give the same completion on any replica of the
model), so a request lost in flight on a dying server is simply sent again elsewhere; each
request is answered exactly once.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from cotbench.errors import CotbenchError

from ..loop.segments import RequestFailed, Segment, SegmentRequest

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def split_base_urls(base_url: str | list[str] | tuple[str, ...]) -> list[str]:
    """`http://a/v1|http://b/v1` (or a list) → the servers' /v1 roots, duplicates dropped, order kept."""
    parts = base_url if isinstance(base_url, (list, tuple)) else str(base_url).split("|")
    urls = list(dict.fromkeys(part.strip().rstrip("/") for part in parts if part.strip()))
    if not urls:
        raise CotbenchError(f"base_url={base_url!r}: expected a server's /v1 URL, or several separated by | (e.g. http://a:8000/v1|http://b:8000/v1)")
    return urls


def wait_until_serving(base_url: str, process, timeout_s: float) -> str | None:
    """For a server this process started (`vllm serve` in the bench and the tests): None once
    `GET /models` answers 200; else why not (it exited, or it was not up in time and is killed)."""
    import requests

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if process.poll() is not None:
            return f"the server exited ({process.returncode})"
        try:
            if requests.get(f"{base_url}/models", timeout=2).status_code == 200:
                return None
        except requests.RequestException:
            pass
        time.sleep(2)
    process.kill()
    return f"the server did not start in {timeout_s:.0f} s"


# The completions API takes at most 4 stop strings (OpenAI's limit; vLLM's server enforces it).
# DEER's official probe stops are 10 (vllm-deer.py, offline vLLM has no limit), so a longer list is
# applied to the returned text here.
MAX_SERVER_STOPS = 4


def apply_stops(segment: Segment, stops) -> Segment:
    """Cut a segment at the first stop string it contains, as the server would have: the text
    before the match, and the tokens up to the one that completes it (the earliest end wins, so
    "}\n" stops before "}\n\n" could). Unchanged when none occurs."""
    ends = [(segment.text.find(stop) + len(stop), stop) for stop in stops if stop in segment.text]
    if not ends:
        return segment
    end, stop = min(ends)
    kept, length = 0, 0
    while kept < len(segment.token_texts) and length < end:
        length += len(segment.token_texts[kept])
        kept += 1
    if not segment.token_texts:  # no per-token texts: the count is the text's
        kept = -1
    ids = segment.token_ids[:kept] if segment.token_ids is not None and kept >= 0 else segment.token_ids
    return Segment(segment.text[: end - len(stop)], kept, "stop", stop, segment.top_logprobs[: max(kept, 0)],
                   segment.token_texts[: max(kept, 0)], ids, segment.token_logprobs[: max(kept, 0)], segment.cached_tokens)


class OpenAICompletionsBackend:
    def __init__(self, base_url: str | list[str], model: str, api_key: str | None = None, concurrency: int = 8,
                 timeout_s: float = 600.0, retries: int = 5, backoff_s: float = 1.0, session=None,
                 tokenizer=None):
        import requests

        self.urls = [url + "/completions" for url in split_base_urls(base_url)]
        self.url = self.urls[0] if len(self.urls) == 1 else " | ".join(self.urls)  # for messages
        self.down: set[str] = set()  # servers that failed; skipped while another is up
        self.served = {url: 0 for url in self.urls}  # completions answered per server
        self._lock = threading.Lock()
        self._next = 0  # round-robin position
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
        # presence_penalty, and vLLM's extensions top_k, min_p, repetition_penalty: only when set.
        for name, off in (("top_k", 0), ("min_p", 0.0), ("presence_penalty", 0.0), ("repetition_penalty", 1.0)):
            if getattr(request, name) != off:
                body[name] = getattr(request, name)
        if request.stop and len(request.stop) <= MAX_SERVER_STOPS:
            body["stop"] = list(request.stop)  # more than a server takes: applied here (parse)
        if request.top_logprobs:
            body["logprobs"] = request.top_logprobs
        if self.send_ids:
            body["return_token_ids"] = True
        if request.banned_ids:
            body["logit_bias"] = {str(token_id): -100 for token_id in sorted(request.banned_ids)}
        return body

    def _order(self, start: int) -> list[str]:
        """The servers to try for one request: those up, from its round-robin slot; else all."""
        with self._lock:
            up = [self.urls[(start + k) % len(self.urls)] for k in range(len(self.urls))]
            live = [url for url in up if url not in self.down]
            if not live:  # every server failed: try them all again (one may have restarted)
                self.down.clear()
                live = up
            return live

    def _mark_down(self, url: str) -> bool:
        """Mark a server down; True while another server is still up."""
        with self._lock:
            self.down.add(url)
            return len(self.down) < len(self.urls)

    def _post(self, body: dict, slot: int = 0) -> dict:
        import requests

        delay = self.backoff_s
        attempt = 0
        while True:
            url = self._order(slot)[0]
            try:
                response = self.session.post(url, json=body, headers=self.headers, timeout=self.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as error:
                failure = f"{url}: {type(error).__name__}"
                if self._mark_down(url):
                    continue  # another server is up: send it there now, no retry spent
            else:
                if response.status_code == 200:
                    try:
                        data = response.json()
                    except ValueError:
                        raise CotbenchError(f"{url}: the server answered 200 with a body that is not JSON") from None
                    with self._lock:
                        self.served[url] += 1
                    return data
                failure = f"{url}: HTTP {response.status_code}: {response.text[:200].strip()}"
                if response.status_code not in TRANSIENT_STATUS:
                    raise CotbenchError(failure)
                slot += 1  # a busy server: the retry goes to the next one
            if attempt >= self.retries:
                break
            attempt += 1
            time.sleep(delay)
            delay *= 2
        servers = "" if len(self.urls) == 1 else f" (all {len(self.urls)} servers tried)"
        raise CotbenchError(f"{failure} after {self.retries} retries{servers} (the journal keeps finished samples; rerun to resume)")

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
        usage = data.get("usage") or {}
        tokens = usage.get("completion_tokens")  # includes a matched stop string's tokens
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")  # vLLM: --enable-prompt-tokens-details
        ids = choice.get("token_ids") if self.send_ids and isinstance(choice.get("token_ids"), list) else None
        chosen = [float(value) for value in (logprobs.get("token_logprobs") or []) if value is not None]  # the sampled tokens'
        segment = Segment(text, tokens if isinstance(tokens, int) else -1, finish, matched, top, list(logprobs.get("tokens") or []), ids,
                          chosen if len(chosen) == len(top) else [], cached if isinstance(cached, int) else None)
        if request.stop and len(request.stop) > MAX_SERVER_STOPS:
            segment = apply_stops(segment, request.stop)
        return segment

    def _slots(self, count: int) -> list[int]:
        """Round-robin positions over the servers for the next `count` requests."""
        with self._lock:
            slots = [self._next + i for i in range(count)]
            self._next += count
        return slots

    def complete(self, requests: list[SegmentRequest]) -> list[Segment]:
        """A batch, concurrently; every request waits for the slowest (the loop uses `stream`)."""
        bodies = [self.payload(r) for r in requests]
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(requests)))) as pool:
            answers = list(pool.map(self._post, bodies, self._slots(len(bodies))))
        return [self.parse(data, request) for data, request in zip(answers, requests)]

    def stream(self) -> ServerStream:
        return ServerStream(self)


class ServerStream:
    """`SegmentStream` on a server (or a fleet): each request is posted the moment its row needs it,
    at most `concurrency` in flight, and answered as it returns, so a row's probe and continuation
    never wait for other rows' segments. A request that fails for good (retries spent on every
    server, or a 4xx answer) ends its row only (`RequestFailed`, recorded with the reason)."""

    concurrent = True

    def __init__(self, backend: OpenAICompletionsBackend):
        self.backend = backend
        self.pool = ThreadPoolExecutor(max_workers=backend.concurrency)
        self.in_flight: dict[Future, tuple[int, SegmentRequest]] = {}

    def submit(self, key: int, request: SegmentRequest) -> None:
        [slot] = self.backend._slots(1)
        self.in_flight[self.pool.submit(self.backend._post, self.backend.payload(request), slot)] = (key, request)

    def cancel(self, key: int) -> None:
        """A request not yet posted is never posted; one the server is answering finishes there (a
        completion cannot be called back) and its answer is dropped."""
        future = next((future for future, (owner, _) in self.in_flight.items() if owner == key), None)
        if future is not None:
            del self.in_flight[future]
            future.cancel()

    def finished(self) -> list[tuple[int, Segment | RequestFailed]]:
        done, _ = wait(list(self.in_flight), return_when=FIRST_COMPLETED)
        answers = []
        for future in done:
            key, request = self.in_flight.pop(future)
            try:
                answers.append((key, self.backend.parse(future.result(), request)))
            except CotbenchError as error:
                answers.append((key, RequestFailed(str(error))))
        return answers

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.in_flight = {}
