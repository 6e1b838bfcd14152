"""backend=vllm on a busy machine: the KV cache is sized from free memory on CPU, the user's
setting wins, and a failed start is one line naming free vs requested memory and the key to
change. The sizing and the error line are checked without vLLM; one real start (and one
start that must fail) runs vLLM's CPU build under the vLLM lock (slow)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cotbench.cot_methods.backends.vllm import memory as vllm_memory
from cotbench.cot_methods.backends.vllm.memory import GIB, cpu_kv_cache_bytes, explain_start_failure, memory_kwargs

REPO = Path(__file__).resolve().parents[4]
VLLM_PYTHON = os.environ.get("COTBENCH_VLLM_PYTHON") or str(REPO / ".venv-vllm" / "bin" / "python")


def test_the_cpu_kv_cache_fits_in_what_is_free_and_stays_in_bounds():
    for available in (0, 100 << 20, 1 * GIB, int(11.2 * GIB), 64 * GIB):
        size = cpu_kv_cache_bytes(available)
        assert vllm_memory.CPU_KV_CACHE_FLOOR_BYTES <= size <= vllm_memory.CPU_KV_CACHE_CAP_BYTES
        if available * vllm_memory.CPU_KV_CACHE_FRACTION >= vllm_memory.CPU_KV_CACHE_FLOOR_BYTES:
            assert size <= available * vllm_memory.CPU_KV_CACHE_FRACTION
    # The machine: 11.2 of 12.8 GiB free, where vLLM's default asks 0.9 x 12.8 = 11.5 GiB.
    busy = int(11.2 * GIB)
    assert memory_kwargs(True, None, None, busy, environ={}) == {"kv_cache_memory_bytes": cpu_kv_cache_bytes(busy)}
    assert 0.9 * 12.8 * GIB > busy and cpu_kv_cache_bytes(busy) < busy  # vLLM's default would not fit; ours does


def test_the_users_setting_wins_and_gpus_keep_vllms_default():
    assert memory_kwargs(True, None, 3 * GIB, GIB, environ={}) == {"kv_cache_memory_bytes": 3 * GIB}
    assert memory_kwargs(True, 0.5, None, GIB, environ={}) == {"gpu_memory_utilization": 0.5}
    assert memory_kwargs(True, None, None, GIB, environ={"VLLM_CPU_KVCACHE_SPACE": "2"}) == {}  # vLLM reads it itself
    assert memory_kwargs(False, None, None, GIB, environ={}) == {}
    assert memory_kwargs(False, 0.7, None, GIB, environ={}) == {"gpu_memory_utilization": 0.7}


def test_a_failed_start_is_one_line_with_free_and_requested_memory_and_the_key():
    error = RuntimeError("Engine core initialization failed. See root cause above.\nmore lines")
    line = explain_start_failure(error, True, {"kv_cache_memory_bytes": 4 * GIB}, int(2.5 * GIB), 16 * GIB, environ={})
    assert "\n" not in line
    assert "2.5 GiB of 16.0 GiB host memory free" in line and "4.0 GiB KV cache" in line
    assert "lower kv_cache_memory_bytes=" in line and "Engine core initialization failed" in line
    line = explain_start_failure(ValueError("x"), True, {"gpu_memory_utilization": 0.9}, int(11.2 * GIB), int(12.8 * GIB), environ={})
    assert "11.2 GiB of 12.8 GiB host memory free" in line and "11.5 GiB of host memory (gpu_memory_utilization=0.9)" in line
    assert "lower gpu_memory_utilization= or set kv_cache_memory_bytes=" in line
    line = explain_start_failure(ValueError("x"), False, {}, 10 * GIB, 80 * GIB, environ={})
    assert "GPU memory free" in line and "gpu_memory_utilization=0.9" in line and "kv_cache_memory_bytes" not in line


def test_load_vllm_turns_an_engine_failure_into_that_line(monkeypatch):
    """Through `load_vllm` itself, with a stand-in `vllm` module whose engine refuses to start."""
    import types

    from cotbench.cot_methods.backends.vllm import backend as vllm_backend
    from cotbench.cot_methods.backends.vllm import engine as vllm_engine
    from cotbench.errors import CotbenchError

    seen = {}

    class RefusingLLM:
        def __init__(self, **kwargs):
            seen.update(kwargs)
            raise RuntimeError("Engine core initialization failed. See root cause above.")

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=RefusingLLM))
    monkeypatch.setattr(vllm_engine, "on_cpu", lambda: True)
    monkeypatch.setattr(vllm_engine, "free_memory", lambda cpu: (int(11.2 * GIB), int(12.8 * GIB)))
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    with pytest.raises(CotbenchError) as caught:
        vllm_backend.load_vllm("m", None, "auto", 1, None, None, 0, False)
    assert seen["kv_cache_memory_bytes"] == cpu_kv_cache_bytes(int(11.2 * GIB)) and "gpu_memory_utilization" not in seen
    assert str(caught.value).startswith("backend=vllm: the engine did not start (Engine core initialization failed")
    assert "11.2 GiB of 12.8 GiB host memory free" in str(caught.value)


START = """
import sys
from cotbench.cot_methods.backends.vllm.backend import load_vllm
from cotbench.errors import CotbenchError
from vllm import SamplingParams
try:
    llm = load_vllm(sys.argv[1], None, "float32", 1, {utilization}, 512, 0, False)
except CotbenchError as error:
    print("COTBENCH-ERROR", error)
    sys.exit(2)
print("KV", llm.llm_engine.vllm_config.cache_config.kv_cache_memory_bytes)
print("TEXT", repr(llm.generate(["The capital of France is"], SamplingParams(max_tokens=4, temperature=0))[0].outputs[0].text))
"""


def _start(model: str, utilization) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="2", VLLM_LOGGING_LEVEL="WARNING")
    env.pop("VLLM_CPU_KVCACHE_SPACE", None)
    return subprocess.run(["flock", "/tmp/cotbench-vllm.lock", VLLM_PYTHON, "-c", START.format(utilization=utilization), model],
                          capture_output=True, text=True, timeout=1500, env=env, cwd="/tmp")


@pytest.mark.slow
@pytest.mark.skipif(not Path(VLLM_PYTHON).is_file(), reason=f"no vLLM build at {VLLM_PYTHON}")
def test_a_real_engine_starts_with_the_sized_cache_and_an_oversized_one_fails_in_one_line(smollm2_path):
    started = _start(smollm2_path, None)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-3000:]
    kv = int(next(line.split()[1] for line in started.stdout.splitlines() if line.startswith("KV ")))
    assert vllm_memory.CPU_KV_CACHE_FLOOR_BYTES <= kv <= vllm_memory.CPU_KV_CACHE_CAP_BYTES
    assert "Paris" in started.stdout
    # Asking for 0.99 of the node's memory cannot be met while anything else runs: one line.
    refused = _start(smollm2_path, 0.99)
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-3000:]
    [line] = [line for line in refused.stdout.splitlines() if line.startswith("COTBENCH-ERROR")]
    assert "host memory free" in line and "gpu_memory_utilization=0.99" in line and "lower gpu_memory_utilization=" in line
