"""Segment backend on vLLM's offline engine (`vllm.LLM`), prefix caching on, so every probe and
continuation reuses the prompt's and the thinking's KV blocks instead of prefilling them again.
Rows are streamed request by request into the running engine (`stream.py`), so one row's probe
joins the batch of the others' decoding instead of waiting for a round to end.

vLLM is imported only in this folder, when `backend=vllm` is asked for; `tensor_parallel_size` is
passed through as lm-eval's own vllm backend does, `data_parallel_size` starts one engine
process per device (`data_parallel.py`), and each engine starts in `engine.py` with memory sized
to what is free (`memory.py`).
"""

from __future__ import annotations

from ...loop.segments import RoundStream, Segment, SegmentRequest
from .data_parallel import DataParallelLLM
from .engine import on_cpu, start_engine, vllm_engine_class
from .memory import free_memory, memory_kwargs
from .stream import EngineStream


def load_vllm(model: str, tokenizer: str | None, dtype: str, tensor_parallel_size: int, gpu_memory_utilization: float | None,
              max_model_len: int | None, seed: int, trust_remote_code: bool, kv_cache_memory_bytes: int | None = None,
              data_parallel_size: int = 1, enforce_eager: bool = False):
    """vLLM's offline engine (`engine.py`: memory sized to what is free, a failed start in one line);
    `data_parallel_size` > 1: that many engine processes (`data_parallel.py`)."""
    load_kwargs = dict(model=model, tokenizer=tokenizer, dtype=dtype, tensor_parallel_size=tensor_parallel_size,
                       gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len, seed=seed,
                       trust_remote_code=trust_remote_code, kv_cache_memory_bytes=kv_cache_memory_bytes, enforce_eager=enforce_eager)
    if data_parallel_size > 1:
        vllm_engine_class()  # no vLLM: the same one line as for one engine
        cpu = on_cpu()
        if cpu and kv_cache_memory_bytes is None:  # the engines share the host: each gets its share
            available, _ = free_memory(cpu)
            share = memory_kwargs(cpu, gpu_memory_utilization, None, available).get("kv_cache_memory_bytes")
            load_kwargs["kv_cache_memory_bytes"] = share and share // data_parallel_size // (1 << 20) * (1 << 20)
        return DataParallelLLM(data_parallel_size, load_kwargs, cpu)
    return start_engine(**load_kwargs)


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

    @staticmethod
    def segment(request: SegmentRequest, completion, cached_tokens: int | None = None) -> Segment:
        """One of vLLM's `CompletionOutput`s as the loop's `Segment`."""
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
        # The sampled token is always in its position's dict (vLLM adds it to the top-k).
        chosen = [position[token_id].logprob for position, token_id in zip(completion.logprobs or [], completion.token_ids)
                  if token_id in position]
        return Segment(completion.text, tokens, finish, matched, top, texts, list(completion.token_ids),
                       chosen if len(chosen) == len(completion.logprobs or []) else [], cached_tokens)

    def complete(self, requests: list[SegmentRequest]) -> list[Segment]:
        """A batch in one `generate` call (every request waits for the slowest)."""
        outputs = self.llm.generate([self.prompt(r) for r in requests], [self.sampling_params(r) for r in requests], use_tqdm=False)
        return [self.segment(request, output.outputs[0], getattr(output, "num_cached_tokens", None))
                for request, output in zip(requests, outputs)]

    def stream(self):
        """Request by request on the engine (`stream.py`), where it has vLLM's request-level
        interface; else (data_parallel_size > 1) rounds of `complete`."""
        if EngineStream.supported(self.llm):
            return EngineStream(self)
        return RoundStream(self)
