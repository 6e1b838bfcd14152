"""backend=openai over several servers (`base_url=http://a/v1|http://b/v1`): requests are spread
over the servers, and when one dies mid-run, with a request in flight, its requests go to the
others: nothing is lost, each request is answered once, and the results equal one server's.

The servers are small OpenAI-compatible completion servers on loopback (`http.server` in a
thread) that answer deterministically from the prompt and the seed, like replicas of one model.
"""

import hashlib
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cotbench.cot_methods.backends.openai import OpenAICompletionsBackend, split_base_urls
from cotbench.cot_methods.loop.segments import SegmentRequest
from cotbench.errors import CotbenchError


class FakeServer(ThreadingHTTPServer):
    """One replica. `die_after=n`: the (n+1)-th request is dropped unanswered (the server dies
    with it in flight) and the server stops listening, so later connections are refused."""

    daemon_threads = True

    def __init__(self, die_after: int | None = None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.die_after, self.answered, self.prompts, self.dead = die_after, 0, [], False
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def kill(self):
        self.dead = True
        threading.Thread(target=lambda: (self.shutdown(), self.server_close()), daemon=True).start()


def completion(body: dict) -> dict:
    """What every replica answers: a function of the prompt, the seed and max_tokens only."""
    digest = hashlib.sha256(json.dumps([body["prompt"], body.get("seed"), body["max_tokens"]]).encode()).hexdigest()
    text = f" Let me add. The answer is \\boxed{{{int(digest[:6], 16) % 1000}}}."
    return {"choices": [{"text": text, "finish_reason": "stop", "stop_reason": None, "logprobs": None}],
            "usage": {"completion_tokens": 12}}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            dying = server.die_after is not None and server.answered >= server.die_after and not server.dead
            if dying:
                server.kill()
            elif not server.dead:
                server.answered += 1
                server.prompts.append(body["prompt"])
        if dying or server.dead:
            self.close_connection = True  # no answer: the client sees the connection drop
            return
        payload = json.dumps(completion(body)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


REQUESTS = [SegmentRequest(f"Question {i}: what is {i} + {i}?", 32, seed=100 + i, stop=("</think>",)) for i in range(16)]


def test_requests_are_spread_and_a_server_dying_mid_run_loses_nothing():
    a, b, alone = FakeServer(die_after=3), FakeServer(), FakeServer()
    fleet = OpenAICompletionsBackend(f"{a.base_url}|{b.base_url}", "m", concurrency=4, retries=1, backoff_s=0.01, timeout_s=10)
    single = OpenAICompletionsBackend(alone.base_url, "m", concurrency=4, timeout_s=10)
    first = fleet.complete(REQUESTS[:4])
    assert a.answered == 2 and b.answered == 2  # round-robin over the two
    rest = fleet.complete(REQUESTS[4:])  # a answers one more, drops the next in flight, then refuses
    assert a.dead and a.answered == 3
    assert fleet.down == {a.base_url + "/completions"}
    # Every request answered exactly once, by a server that was up; none twice, none missing.
    answered = a.prompts + b.prompts
    assert sorted(answered) == sorted(r.prompt for r in REQUESTS) and len(answered) == len(REQUESTS)
    assert fleet.served == {a.base_url + "/completions": 3, b.base_url + "/completions": 13}
    # The same results as one server.
    assert first + rest == single.complete(REQUESTS)


def test_every_server_down_is_retried_then_one_line():
    a, b = FakeServer(die_after=0), FakeServer(die_after=0)
    fleet = OpenAICompletionsBackend([a.base_url, b.base_url], "m", retries=2, backoff_s=0.01, timeout_s=5)
    with pytest.raises(CotbenchError, match=r"ConnectionError after 2 retries \(all 2 servers tried\)"):
        fleet.complete(REQUESTS[:1])


def test_base_url_lists():
    assert split_base_urls("http://a/v1/| http://b/v1 |http://a/v1") == ["http://a/v1", "http://b/v1"]
    with pytest.raises(CotbenchError, match=r"base_url='\|': expected a server's /v1 URL"):
        split_base_urls("|")


@pytest.mark.slow
def test_an_eval_over_two_servers_one_killed_writes_each_record_once_and_matches_one_server(smollm2_path, tmp_path):
    """Through the CLI: lm-eval's samples file after a run where one of two servers dies."""
    a, b, alone = FakeServer(die_after=2), FakeServer(), FakeServer()

    def run(base_url: str, out):
        proc = subprocess.run(
            [sys.executable, "-m", "cotbench.cli", "eval", "--model", "cotbench-vanilla", "--model_args",
             f"pretrained={smollm2_path},backend=openai,base_url={base_url},served_model=m,token_ids=false,retries=1,concurrency=4",
             "--tasks", "cot_arith_easy", "--limit", "8", "--batch_size", "8", "--gen_kwargs", "temperature=0,max_gen_toks=32",
             "--log_samples", "--output_path", str(out)],
            capture_output=True, text=True, timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        [path] = out.rglob("samples_cot_arith_easy_*.jsonl")
        return [json.loads(line) for line in path.open()]

    fleet = run(f"{a.base_url}|{b.base_url}", tmp_path / "fleet")
    single = run(alone.base_url, tmp_path / "single")
    assert a.dead and a.answered == 2 and b.answered == 6
    assert sorted(s["doc_id"] for s in fleet) == list(range(8))  # every sample written once
    records = [g for s in fleet for g in s["doc"]["cotbench"]["generations"]]
    assert len(records) == 8
    by_doc = {s["doc_id"]: s for s in single}
    for sample in fleet:
        assert sample["resps"] == by_doc[sample["doc_id"]]["resps"]
        assert sample["exact_match" if "exact_match" in sample else "acc"] == by_doc[sample["doc_id"]]["exact_match" if "exact_match" in sample else "acc"]
