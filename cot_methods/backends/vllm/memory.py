"""How much memory vLLM's engine may take, so `backend=vllm` starts on a machine that is busy.

vLLM's CPU backend reads `gpu_memory_utilization` (default 0.9) as a fraction of the NODE's
total memory and refuses to start when less than that is free (vllm/v1/worker/cpu_worker.py:
"Available memory on node … is less than desired CPU memory utilization"): with other work
running, 0.9 of 12.8 GiB is more than the 11.2 GiB free, and the engine never starts. An
explicit KV-cache size (`kv_cache_memory_bytes`, what vLLM's legacy `VLLM_CPU_KVCACHE_SPACE`
sets) bypasses that check. So on CPU, unless the user chose, we size the KV cache from the
memory that is free now: `CPU_KV_CACHE_FRACTION` of it (the rest holds the weights, the
activations and everyone else's work), at most `CPU_KV_CACHE_CAP_BYTES` (vLLM's former default
for `VLLM_CPU_KVCACHE_SPACE`, 4 GiB). On a GPU vLLM's own default stays (its memory is the
device's, not shared with the host's other work).

If the engine still fails to start, `explain_start_failure` says in one line how much was free,
how much was asked for, and which model_args key changes it.
"""

from __future__ import annotations

import os

GIB = 1 << 30
# Share of the currently free memory given to the KV cache on CPU (ours: leaves room for the
# model's weights and activations and for other processes on a shared machine).
CPU_KV_CACHE_FRACTION = 0.25
# Upper bound: vLLM's default KV cache on CPU before it read gpu_memory_utilization
# ("VLLM_CPU_KVCACHE_SPACE … is not set, using 4 by default", vLLM ≤ 0.10 cpu platform).
CPU_KV_CACHE_CAP_BYTES = 4 * GIB
# Lower bound: below this even a 1k-token context of a small model does not fit; vLLM then
# raises its own "not enough KV cache" error, which `explain_start_failure` turns into one line.
CPU_KV_CACHE_FLOOR_BYTES = 256 << 20
KV_ENV = "VLLM_CPU_KVCACHE_SPACE"


def free_memory(on_cpu: bool) -> tuple[int, int]:
    """(available, total) bytes: host memory as vLLM's CPU worker measures it, else the GPU's."""
    if not on_cpu:
        import torch

        if torch.cuda.is_available():
            available, total = torch.cuda.mem_get_info()
            return int(available), int(total)
    import psutil

    memory = psutil.virtual_memory()
    return int(memory.available), int(memory.total)


def cpu_kv_cache_bytes(available_bytes: int) -> int:
    """The KV cache we ask for on CPU when the user did not choose one."""
    sized = int(available_bytes * CPU_KV_CACHE_FRACTION)
    return max(CPU_KV_CACHE_FLOOR_BYTES, min(CPU_KV_CACHE_CAP_BYTES, sized)) // (1 << 20) * (1 << 20)


def memory_kwargs(on_cpu: bool, gpu_memory_utilization: float | None, kv_cache_memory_bytes: int | None,
                  available_bytes: int, environ=os.environ) -> dict:
    """The engine's memory arguments: what the user set, else a size that fits what is free.

    The user's choice always wins: `kv_cache_memory_bytes`, then `gpu_memory_utilization`,
    then `VLLM_CPU_KVCACHE_SPACE` in the environment (vLLM reads it itself). Otherwise, on
    CPU, an explicit KV cache sized by `cpu_kv_cache_bytes`; on a GPU, vLLM's default.
    """
    kwargs = {}
    if gpu_memory_utilization is not None:
        kwargs["gpu_memory_utilization"] = gpu_memory_utilization
    if kv_cache_memory_bytes is not None:
        kwargs["kv_cache_memory_bytes"] = int(kv_cache_memory_bytes)
    elif on_cpu and gpu_memory_utilization is None and not environ.get(KV_ENV):
        kwargs["kv_cache_memory_bytes"] = cpu_kv_cache_bytes(available_bytes)
    return kwargs


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def explain_start_failure(error: BaseException, on_cpu: bool, kwargs: dict, available_bytes: int, total_bytes: int,
                          environ=os.environ) -> str:
    """One line: why the engine may not have started, what was free, what was asked, what to change."""
    cause = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    if environ.get(KV_ENV) and on_cpu and "kv_cache_memory_bytes" not in kwargs:
        asked = f"a {environ[KV_ENV]} GiB KV cache (${KV_ENV})"
        change = f"lower ${KV_ENV} or set kv_cache_memory_bytes="
    elif "kv_cache_memory_bytes" in kwargs:
        asked = f"a {_gib(kwargs['kv_cache_memory_bytes'])} KV cache (kv_cache_memory_bytes={kwargs['kv_cache_memory_bytes']})"
        change = "lower kv_cache_memory_bytes="
    else:
        fraction = kwargs.get("gpu_memory_utilization", 0.9)
        where = f"{_gib(fraction * total_bytes)} of host memory" if on_cpu else "of the GPU's memory"
        asked = f"{fraction:g} {where} (gpu_memory_utilization={fraction:g})"
        change = "lower gpu_memory_utilization=" + (" or set kv_cache_memory_bytes=" if on_cpu else "")
    device = "host" if on_cpu else "GPU"
    return (f"backend=vllm: the engine did not start ({cause}); {_gib(available_bytes)} of {_gib(total_bytes)} {device} memory "
            f"free, the engine asked for {asked} plus the weights; if memory is the cause, {change} in --model_args "
            "or free memory")
