"""`data_parallel_size` on backend=vllm: engine processes with sharded requests.

Fast: the sharding keeps a row (its prompt, every later segment and probe extending it) on one
engine and balances new rows; each engine gets its own cores or GPUs. Slow: a real eval with 2
engine processes on CPU (vLLM's CPU build, the SmolLM2 conversion, small KV cache, under the
vLLM lock) writes the same samples and records as 1 engine (floats within 1e-4).
"""

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from cotbench.cot_methods.backends.vllm.data_parallel import ROW_MEMORY_CALLS, DataParallelLLM, device_env
from cotbench.errors import CotbenchError

REPO = Path(__file__).resolve().parents[4]
VLLM_PYTHON = os.environ.get("COTBENCH_VLLM_PYTHON") or str(REPO / ".venv-vllm" / "bin" / "python")


def sharder(size: int) -> DataParallelLLM:
    dp = DataParallelLLM.__new__(DataParallelLLM)  # the sharding alone, no engines
    dp.size, dp.rows, dp.load, dp.calls = size, {}, [0] * size, 0
    return dp


def test_rows_stay_on_their_engine_and_new_rows_balance():
    dp = sharder(2)
    prompts = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]
    first = dp.shard(prompts)
    assert first == [0, 1, 0, 1]
    # The next round: each row's prompt grown by its segment, a probe on row 2, one row done.
    grown = [prompts[0] + [11, 12], prompts[2] + [13], prompts[2] + [13, 99, 98], prompts[3] + [14, 15]]
    assert dp.shard(grown) == [0, 0, 0, 1]
    assert dp.shard([[20, 21], [22]]) == [0, 1]  # two rows each: the tie goes to engine 0, then 1
    for _ in range(ROW_MEMORY_CALLS + 1):  # only row [20, 21] goes on; the others finished
        assert dp.shard([[20, 21, 5]]) == [0]
    assert dp.load == [1, 0]
    assert dp.shard([[30], [31]]) == [1, 0]
    assert dp.shard(["a text prompt", "a text prompt, grown"]) == [1, 1]  # text prompts: the same affinity by prefix


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
    return {k: v for k, v in record.items() if k not in ("batch_wall_s",)}


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
