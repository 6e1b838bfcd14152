"""backend=vllm (vLLM's offline engine) or backend=openai (any OpenAI-compatible server), chosen in
`--model_args`: the runner that decodes with the segment loop (`loop/segment_loop.py`) on a backend
from `backends/`. The tokenizer is loaded here; the model never is, in this process.

Same adapter class, arguments, chat template, `ThinkingPolicy` and records as backend=hf:
`base.py` builds every backend's adapter one way, and `hf.py` is the other runner. Methods that
need what a server cannot give (attentions, every token's full distribution) are refused there
in one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from cotbench.errors import CotbenchError

from ..loop.row import DecodeSettings, RowResult
from ..loop.segment_loop import SegmentThinkingLoop
from ..policy import ThinkingPolicy
from ..signals.topk_entropy import DEFAULT_ESTIMATOR, ESTIMATORS
from .args import parse_method_args, require


@dataclass
class SegmentArgs:
    """Arguments of the segment backends (besides the method's and the engine's)."""

    base_url: str | None = None  # backend=openai: e.g. http://127.0.0.1:8000/v1
    served_model: str | None = None  # backend=openai: the server's model name (default: pretrained)
    api_key: str | None = None  # backend=openai: default $OPENAI_API_KEY
    tokenizer: str | None = None  # client-side tokenizer and chat template (default: pretrained)
    top_k: int = 20  # logprobs per probe position (vLLM's default cap is 20; OpenAI's 5)
    entropy_estimator: str = DEFAULT_ESTIMATOR  # tail_as_one | midpoint | uniform_tail
    concurrency: int = 8  # backend=openai: requests in flight
    timeout: float = 600.0  # backend=openai: seconds per request
    retries: int = 5  # backend=openai: retries of transient failures, exponential backoff
    token_ids: bool = True  # backend=openai: send token-id prompts, ask for generated ids (vLLM, SGLang)
    tensor_parallel_size: int = 1  # backend=vllm
    data_parallel_size: int = 1  # backend=vllm: engine processes, one per device (vllm/data_parallel.py)
    gpu_memory_utilization: float | None = None  # backend=vllm: default vLLM's 0.9 on GPU; on CPU see kv_cache_memory_bytes
    kv_cache_memory_bytes: int | None = None  # backend=vllm: default on CPU sized from free memory (vllm/memory.py)
    max_model_len: int | None = None  # backend=vllm
    dtype: str = "auto"  # backend=vllm
    enforce_eager: bool = False  # backend=vllm: skip torch.compile (on CPU minutes of start-up on a busy machine; slower decoding)

    def validate(self, method: str) -> None:
        require(self.top_k >= 1, method, "top_k", self.top_k, "an integer >= 1")
        require(self.entropy_estimator in ESTIMATORS, method, "entropy_estimator", self.entropy_estimator, " | ".join(ESTIMATORS))
        require(self.concurrency >= 1, method, "concurrency", self.concurrency, "an integer >= 1")
        require(self.timeout > 0, method, "timeout", self.timeout, "a positive number of seconds")
        require(self.retries >= 0, method, "retries", self.retries, "an integer >= 0")
        require(self.tensor_parallel_size >= 1, method, "tensor_parallel_size", self.tensor_parallel_size, "an integer >= 1")
        require(self.data_parallel_size >= 1, method, "data_parallel_size", self.data_parallel_size, "an integer >= 1")
        require(self.gpu_memory_utilization is None or 0 < self.gpu_memory_utilization <= 1, method, "gpu_memory_utilization",
                self.gpu_memory_utilization, "a fraction in (0, 1]")
        require(self.kv_cache_memory_bytes is None or self.kv_cache_memory_bytes > 0, method, "kv_cache_memory_bytes",
                self.kv_cache_memory_bytes, "a positive number of bytes, e.g. 2e9")


class SegmentRunner:
    """A tokenizer here, the model behind a segment backend, decoded by `SegmentThinkingLoop`."""

    # lm-eval passes a device, batch sizes and trust_remote_code to every model; the model is not here.
    ARGUMENTS = {f.name for f in fields(SegmentArgs)} | {"device", "batch_size", "max_batch_size", "trust_remote_code"}
    OTHER_ARGUMENTS = "or the segment backends' " + ", ".join(f.name for f in fields(SegmentArgs))

    def __init__(self, backend: str, pretrained: str, local_model: str, kwargs: dict, method: str, seed: int):
        from transformers import AutoTokenizer

        self.args = parse_method_args(SegmentArgs, kwargs, method)
        self.name, self.method, self.pretrained = backend, method, pretrained
        self.batch_size = kwargs.get("batch_size", 1)
        self.rank, self.world_size, self.device = 0, 1, "cpu"  # the client's; the model lives in the backend
        self.model = None
        self.tokenizer = AutoTokenizer.from_pretrained(self.args.tokenizer or local_model)
        self.backend = self._start_backend(local_model, seed)
        self.loop = SegmentThinkingLoop(self.backend, self.tokenizer, self.args.top_k, self.args.entropy_estimator)

    def _start_backend(self, local_model: str, seed: int):
        args = self.args
        if self.name == "openai":
            from ..backends.openai import OpenAICompletionsBackend

            if not args.base_url:
                raise CotbenchError(f"{self.method}: backend=openai needs base_url= (e.g. http://127.0.0.1:8000/v1)")
            return OpenAICompletionsBackend(
                args.base_url, args.served_model or self.pretrained, args.api_key or os.environ.get("OPENAI_API_KEY"),
                args.concurrency, args.timeout, args.retries, tokenizer=self.tokenizer if args.token_ids else None,
            )
        from ..backends.vllm.backend import VLLMBackend, load_vllm

        llm = load_vllm(local_model, args.tokenizer, args.dtype, args.tensor_parallel_size, args.gpu_memory_utilization,
                        args.max_model_len, seed, trust_remote_code=False, kv_cache_memory_bytes=args.kv_cache_memory_bytes,
                        data_parallel_size=args.data_parallel_size, enforce_eager=args.enforce_eager)
        return VLLMBackend(llm)

    def encode_prompt(self, text: str) -> str:
        """The prompt stays text: the loop encodes it once and sends ids where a backend takes them."""
        return text

    def run(self, prompts: list[str], settings: DecodeSettings, policy: ThinkingPolicy, seeds: list[int]) -> list[tuple[RowResult, str]]:
        """(accounting, generated text) per prompt."""
        return self.loop.run(prompts, settings, policy, seeds)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "top_k": self.args.top_k,
            "entropy_estimator": self.args.entropy_estimator,
            "base_url": self.args.base_url if self.name == "openai" else None,
        }

    def model_info(self) -> dict:
        """lm-eval's results header: the model is served, so its size is not known here."""
        return {"model_backend": self.name, "model_name": self.pretrained, "base_url": self.args.base_url}

    # -- lm-eval's other duties: one process, generation only ---------------------------------
    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise CotbenchError(f"{self.method}: backend={self.name} only generates (use generate_until tasks such as cot_*)")

    loglikelihood_rolling = loglikelihood

    def all_gather(self, tensor):
        return tensor

    def gather_object(self, obj, dst=0):
        return [obj]

    def barrier(self) -> None:
        pass

    def set_cache_hook(self, cache_hook) -> None:
        pass  # nothing is cached below the adapter
