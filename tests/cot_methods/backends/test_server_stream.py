"""backend=openai without rounds (issue 29): each row's request goes out when its row needs it
and comes back on its own, so a fast row never waits for a slow one, and a request that fails
for good ends its own row only. A loopback server whose answers we control: prompts with "slow"
are held until the test releases them, prompts with "broken" always get HTTP 500.
"""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cotbench.cot_methods.backends.openai import OpenAICompletionsBackend
from cotbench.cot_methods.loop.row import DecodeSettings
from cotbench.cot_methods.loop.segment_loop import SegmentThinkingLoop
from cotbench.cot_methods.loop.segments import RequestFailed, SegmentRequest
from cotbench.cot_methods.policy import ThinkingPolicy


class HeldServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.release = threading.Event()
        self.received: list[str] = []  # prompts posted, answered or still held
        self.answered: list[str] = []
        self.broken = "broken"  # prompts containing this get HTTP 500
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = str(body["prompt"])
        self.server.received.append(prompt)
        if self.server.broken in prompt:
            self._send(500, {"error": "the model crashed on this prompt"})
            return
        if "slow" in prompt:
            self.server.release.wait(timeout=60)
        self.server.answered.append(prompt)
        self._send(200, {"choices": [{"text": " The answer is \\boxed{7}.", "finish_reason": "length", "stop_reason": None, "logprobs": None}],
                         "usage": {"completion_tokens": 8}})

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    server = HeldServer()
    yield server
    server.release.set()
    server.shutdown()


def test_a_fast_row_goes_on_while_a_slow_row_is_in_flight(server):
    stream = OpenAICompletionsBackend(server.base_url, "m", concurrency=4).stream()
    try:
        stream.submit(0, SegmentRequest("slow row", 8))
        stream.submit(1, SegmentRequest("fast row, first segment", 8))
        [(key, _)] = stream.finished()
        assert key == 1
        stream.submit(1, SegmentRequest("fast row, its probe", 8))  # the next request of the row, at once
        [(key, segment)] = stream.finished()
        assert key == 1 and segment.text == " The answer is \\boxed{7}."
        assert server.answered == ["fast row, first segment", "fast row, its probe"]  # the slow row still waits
        server.release.set()
        [(key, _)] = stream.finished()
        assert key == 0
    finally:
        stream.close()


def test_a_cancelled_request_is_not_sent_or_its_late_answer_is_dropped(server):
    """The loop's speculative continuation after a probe that cut (issue 29): one still queued
    behind `concurrency` is never posted; one the server is answering finishes there, unread."""
    stream = OpenAICompletionsBackend(server.base_url, "m", concurrency=1).stream()
    try:
        stream.submit(-1, SegmentRequest("slow speculative continuation", 8))
        wait_for(lambda: server.received)  # on the server, held there
        stream.submit(-2, SegmentRequest("queued speculative continuation", 8))
        stream.cancel(-2)
        stream.cancel(-1)
        stream.cancel(7)  # a key not in flight: nothing to do
        server.release.set()
        wait_for(lambda: server.answered)
        stream.submit(0, SegmentRequest("row 0's segment", 8))
        [(key, segment)] = stream.finished()  # the late answer came first, and is not returned
        assert key == 0 and segment.text == " The answer is \\boxed{7}."
        assert server.received == ["slow speculative continuation", "row 0's segment"]  # the queued one never went out
    finally:
        stream.close()


def wait_for(condition, timeout_s: float = 30.0) -> None:
    deadline = time.time() + timeout_s
    while not condition():
        assert time.time() < deadline, "the loopback server did not get there in time"
        time.sleep(0.01)


def test_a_request_that_fails_for_good_ends_its_row_only(server, arith_testbed):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(arith_testbed)
    backend = OpenAICompletionsBackend(server.base_url, "m", retries=1, backoff_s=0.01)
    loop = SegmentThinkingLoop(backend, tokenizer)
    server.release.set()
    results = loop.run(["a good row", "a broken row", "another good row"], DecodeSettings(max_new_tokens=8), ThinkingPolicy(), [0, 1, 2])
    (good, good_text), (broken, broken_text), (other, _) = results
    assert good.finish_reason == other.finish_reason == "length" and good_text == " The answer is \\boxed{7}."
    assert broken.finish_reason == "error" and broken_text == ""
    assert "HTTP 500" in broken.error and "the model crashed on this prompt" in broken.error
    stream = backend.stream()
    stream.submit(5, SegmentRequest("broken again", 4))
    [(key, answer)] = stream.finished()
    stream.close()
    assert key == 5 and isinstance(answer, RequestFailed) and answer.reason.startswith(f"{backend.url}: HTTP 500")


def eval_cli(smollm2_path, base_url: str, out, journal) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cotbench.cli", "eval", "--model", "cotbench-vanilla", "--model_args",
         f"pretrained={smollm2_path},backend=openai,base_url={base_url},served_model=m,token_ids=false,retries=1,journal={journal}",
         "--tasks", "cot_arith_easy", "--limit", "4", "--batch_size", "4", "--gen_kwargs", "temperature=0,max_gen_toks=16",
         "--log_samples", "--output_path", str(out)],
        capture_output=True, text=True, timeout=900,
    )


def records_by_doc(out) -> dict:
    [path] = out.rglob("samples_cot_arith_easy_*.jsonl")
    return {s["doc_id"]: s["doc"]["cotbench"]["generations"][0] for s in map(json.loads, path.open())}


@pytest.mark.slow
def test_a_run_with_a_failed_row_records_it_and_a_rerun_completes_it(server, smollm2_path, tmp_path):
    from cotbench.harness_tasks.arith import evaluation_problems

    server.release.set()
    failing = evaluation_problems("easy")[1].text
    server.broken = failing  # the second problem's prompts always fail
    journal = tmp_path / "journal.jsonl"
    first = eval_cli(smollm2_path, server.base_url, tmp_path / "first", journal)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "cotbench-vanilla: 1 of 4 generations failed" in first.stderr
    records = records_by_doc(tmp_path / "first")
    assert records[1]["finish_reason"] == "error" and records[1]["reason"] == "request_failed" and records[1]["correct"] is False
    assert "HTTP 500" in records[1]["error"]
    assert all(records[d]["finish_reason"] == "length" and records[d]["error"] is None for d in (0, 2, 3))
    server.broken = "nothing matches this"  # the server recovers: the rerun retries only the failed row
    answered = len(server.answered)
    second = eval_cli(smollm2_path, server.base_url, tmp_path / "second", journal)
    assert second.returncode == 0 and "3 of 4 generations restored from the journal" in second.stderr
    assert server.answered[answered:] and all(failing in prompt for prompt in server.answered[answered:])
    assert all(r["finish_reason"] == "length" for r in records_by_doc(tmp_path / "second").values())


@pytest.mark.slow
def test_a_run_where_every_request_fails_is_one_line(server, smollm2_path, tmp_path):
    server.release.set()
    server.broken = ""  # every prompt
    proc = eval_cli(smollm2_path, server.base_url, tmp_path / "out", tmp_path / "journal.jsonl")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cotbench-vanilla: every generation failed (4); the first: " in proc.stderr and "HTTP 500" in proc.stderr
