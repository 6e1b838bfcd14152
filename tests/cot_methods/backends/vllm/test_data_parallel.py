"""`data_parallel_size` on backend=vllm: engine processes with sharded requests.

Fast, without vLLM: `DataParallelLLM` over engine processes that each run a stand-in for `vllm.LLM`
(`fake_vllm_engine.py`: answers are a function of the prompt and its settings, like replicas of one
model) returns what one engine returns, in request order; every row's later prompts (its segments
and probes, extending its first prompt) reach the engine whose prefix cache holds the row, and new
rows are spread over the engines; an engine that cannot start is one line. Each engine gets its
own cores or GPUs. Slow: a real eval with 2 engine processes on CPU (vLLM's CPU build, the SmolLM2
conversion, small KV cache, under the vLLM lock) writes the same samples and records as 1 engine
(floats within 1e-4).
"""

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
from fake_vllm_engine import start_fake_engine

from cotbench.cot_methods.backends.vllm.data_parallel import ROW_MEMORY_CALLS, DataParallelLLM, device_env
from cotbench.errors import CotbenchError

REPO = Path(__file__).resolve().parents[4]
VLLM_PYTHON = os.environ.get("COTBENCH_VLLM_PYTHON") or str(REPO / ".venv-vllm" / "bin" / "python")


def rounds() -> list[list[list[int]]]:
    """The prompts of four rows over three rounds of a segment loop: each row's prompt grows by its
    segment, row 2 also probes (a prompt that extends its thinking), and rows finish."""
    first = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]
    second = [first[0] + [11, 12], first[1] + [13], first[2] + [14], first[2] + [14, 99, 98], first[3] + [15, 16]]
    third = [second[0] + [17], second[2] + [18, 19]]
    return [first, second, third]


def serve(llm, prompts: list[list[int]]) -> list:
    return [output.outputs[0] for output in llm.generate([{"prompt_token_ids": ids} for ids in prompts],
                                                         [{"seed": 7 + i, "max_tokens": 3} for i in range(len(prompts))])]


def test_two_engines_answer_as_one_and_each_row_stays_where_its_prefix_is_cached():
    one, two = DataParallelLLM(1, {"model": "m"}, on_cpu=True, start=start_fake_engine), DataParallelLLM(2, {"model": "m"}, on_cpu=True, start=start_fake_engine)
    try:
        answered = [(serve(one, prompts), serve(two, prompts)) for prompts in rounds()]
        # Rows that finish free their engine: while row 0 goes on alone, a new row goes to the other engine.
        alone = [serve(two, [rounds()[2][0] + [20] * n])[0] for n in range(1, ROW_MEMORY_CALLS + 2)]
        [new_row] = serve(two, [[50, 51]])
    finally:
        one.close()
        two.close()
    for single, sharded in answered:
        assert [c.token_ids for c in sharded] == [c.token_ids for c in single]  # the same answers, in request order
    first, *later = [sharded for _, sharded in answered]
    assert len({c.pid for c in first}) == 2  # the new rows were spread over both engines
    assert all(c.prefix_cached for completions in [*later, alone] for c in completions)  # every continuation found its row's cache
    assert new_row.pid != alone[-1].pid


def test_an_engine_that_cannot_start_is_one_line():
    with pytest.raises(CotbenchError, match=r"^data_parallel_size=2: engine 0 did not start: no model at 'missing'$"):
        DataParallelLLM(2, {"model": "missing"}, on_cpu=True, start=start_fake_engine)


def test_each_engine_gets_its_own_devices():
    cpu = [device_env(rank, 2, 1, on_cpu=True) for rank in range(2)]
    bound = [set(env["VLLM_CPU_OMP_THREADS_BIND"].split(",")) for env in cpu]
    assert all(bound) and (len(os.sched_getaffinity(0)) < 2 or not bound[0] & bound[1])
    gpus = {"CUDA_VISIBLE_DEVICES": "4,5,6,7"}
    assert [device_env(rank, 2, 2, on_cpu=False, environ=gpus) for rank in range(2)] == [
        {"CUDA_VISIBLE_DEVICES": "4,5"}, {"CUDA_VISIBLE_DEVICES": "6,7"}]
    with pytest.raises(CotbenchError, match=r"data_parallel_size=3 x tensor_parallel_size=2 needs 6 GPUs; 4 visible"):
        device_env(0, 3, 2, on_cpu=False, environ=gpus)


def _eval(model: str, data_parallel_size: int, out: Path) -> list[dict]:
    env = dict(os.environ, OMP_NUM_THREADS="2", VLLM_LOGGING_LEVEL="WARNING")
    env.pop("VLLM_CPU_KVCACHE_SPACE", None)
    proc = subprocess.run(
        ["flock", "/tmp/cotbench-vllm.lock", VLLM_PYTHON, "-m", "cotbench.cli", "eval", "--model", "cotbench-entrocut", "--model_args",
         f"pretrained={model},backend=vllm,dtype=float32,max_model_len=1024,kv_cache_memory_bytes=5e8,enforce_eager=true,data_parallel_size={data_parallel_size},"
         "threshold=3,min_thinking_tokens=4,triggers=The|So|We",
         "--tasks", "cot_arith_easy", "--limit", "6", "--batch_size", "6", "--apply_chat_template",
         "--gen_kwargs", "temperature=0,max_gen_toks=64", "--log_samples", "--output_path", str(out)],
        capture_output=True, text=True, timeout=1500, env=env, cwd="/tmp",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = out.rglob("samples_cot_arith_easy_*.jsonl")
    return sorted((json.loads(line) for line in path.open()), key=lambda s: s["doc_id"])


def _content(record: dict) -> dict:
    """A record without what depends on the engines' state rather than the content: wall time,
    each probe's prefix-cache hits (which engine served the row before, and what it still holds)
    and its speculative continuation (one engine streams rows and sends one; engines in rounds do not)."""
    probes = [{k: v for k, v in probe.items() if k not in ("prefix_cache", "speculation")} for probe in record.get("probes", [])]
    return {**{k: v for k, v in record.items() if k != "batch_wall_s"}, "probes": probes}


def _same(a, b) -> bool:
    """Equal, floats within 1e-4: an engine's batch differs with the sharding, and a CPU matmul over
    another batch sums in another order (measured: probe entropies 1.628032 vs 1.628045 on one row,
    same tokens and decisions). Everything else (texts, tokens, decisions, counts) must be exact."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.slow
@pytest.mark.skipif(not Path(VLLM_PYTHON).is_file(), reason=f"no vLLM build at {VLLM_PYTHON}")
def test_two_engine_processes_give_the_same_samples_and_records_as_one(smollm2_path, tmp_path):
    one = _eval(smollm2_path, 1, tmp_path / "dp1")
    two = _eval(smollm2_path, 2, tmp_path / "dp2")
    assert [s["doc_id"] for s in two] == [s["doc_id"] for s in one] == list(range(6))
    for a, b in zip(one, two):
        assert a["resps"] == b["resps"]
        records_one, records_two = ([_content(r) for r in s["doc"]["cotbench"]["generations"]] for s in (a, b))
        assert _same(records_one, records_two), (records_one, records_two)
    assert any(r["probes"] for s in two for r in s["doc"]["cotbench"]["generations"])  # EntroCut probed: probes were sharded too
