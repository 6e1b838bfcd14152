"""Every `cotbench-<method>` adapter on a segment backend: `backend=vllm` (vLLM's offline
engine) or `backend=openai` (any OpenAI-compatible server), chosen in `--model_args`.

Same adapter class, same arguments, same `ThinkingPolicy`, same records: only the loop
changes (`segment_loop.py`). The class is built on the fly as (SegmentMixin, the adapter),
so the adapter's `make_policy` and `describe` run unchanged; the HF model is never loaded.
Methods that need what a server cannot give (attentions, every token's full distribution)
refuse with one clear error.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from functools import lru_cache

from cotbench.errors import CotbenchError

from ..backends.model_loading import resolve_pretrained
from ..loop.segment_loop import SegmentThinkingLoop
from ..signals.topk_entropy import DEFAULT_ESTIMATOR, ESTIMATORS
from .args import parse_method_args, require

SEGMENT_BACKENDS = ("vllm", "openai")


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
    # The chat template's switches, as on backend=hf (lm-eval's HFLM/VLLM arguments of the same
    # names): Qwen3's `enable_thinking=false` renders an empty <think></think> block.
    enable_thinking: bool | None = None
    chat_template_args: dict | None = None  # a dict (JSON --model_args) or a JSON object string

    def template_kwargs(self, method: str) -> dict:
        """What `apply_chat_template` gets besides the messages: chat_template_args, then enable_thinking."""
        extra = self.chat_template_args
        if isinstance(extra, str):
            try:
                extra = json.loads(extra)
            except ValueError:
                extra = self.chat_template_args  # not JSON: refused below
        require(extra is None or isinstance(extra, dict), method, "chat_template_args", self.chat_template_args,
                'a JSON object, e.g. {"enable_thinking": false}')
        kwargs = dict(extra or {})
        if self.enable_thinking is not None:
            kwargs["enable_thinking"] = self.enable_thinking
        return kwargs

    def validate(self, method: str) -> None:
        require(self.top_k >= 1, method, "top_k", self.top_k, "an integer >= 1")
        require(self.entropy_estimator in ESTIMATORS, method, "entropy_estimator", self.entropy_estimator, " | ".join(ESTIMATORS))
        require(self.concurrency >= 1, method, "concurrency", self.concurrency, "an integer >= 1")
        require(self.timeout > 0, method, "timeout", self.timeout, "a positive number of seconds")
        require(self.retries >= 0, method, "retries", self.retries, "an integer >= 0")
        require(self.tensor_parallel_size >= 1, method, "tensor_parallel_size", self.tensor_parallel_size, "an integer >= 1")
        require(self.data_parallel_size >= 1, method, "data_parallel_size", self.data_parallel_size, "an integer >= 1")
        self.template_kwargs(method)
        require(self.gpu_memory_utilization is None or 0 < self.gpu_memory_utilization <= 1, method, "gpu_memory_utilization",
                self.gpu_memory_utilization, "a fraction in (0, 1]")
        require(self.kv_cache_memory_bytes is None or self.kv_cache_memory_bytes > 0, method, "kv_cache_memory_bytes",
                self.kv_cache_memory_bytes, "a positive number of bytes, e.g. 2e9")


class SegmentMixin:
    """Put before an adapter class: replaces HFLM's model loading and the HF decode loop."""

    def __init__(self, backend: str, pretrained: str = "smollm2-135m", gguf_file: str | None = None, **kwargs):
        from lm_eval.api.model import LM
        from transformers import AutoTokenizer

        method = f"cotbench-{self.method_name}"
        if self.segment_support is None:
            raise CotbenchError(f"{method}: backend={backend} cannot run this method ({self.segment_unsupported_reason}); use backend=hf")
        LM.__init__(self)
        self.protocol, self.protocol_settings, self.engine_args, self.method_args = self.resolve_arguments(kwargs)
        self.segment_args = parse_method_args(SegmentArgs, kwargs, method)
        for ignored in ("device", "max_batch_size", "trust_remote_code"):
            kwargs.pop(ignored, None)
        self.batch_size_per_gpu = kwargs.pop("batch_size", 1)  # HFLM's `batch_size` reads it
        self._device = "cpu"  # the client's; the model lives in the backend
        unknown = sorted(set(kwargs))
        if unknown:
            allowed = sorted({*asdict(self.engine_args), *asdict(self.segment_args), *(asdict(self.method_args) if self.method_args else ())})
            raise CotbenchError(f"{method}: unknown model_arg {unknown[0]!r} for backend={backend} (expected some of: {', '.join(allowed)})")
        self.backend_name = backend
        self.cotbench_pretrained = pretrained
        local = resolve_pretrained(pretrained, gguf_file)
        self.tokenizer = AutoTokenizer.from_pretrained(self.segment_args.tokenizer or local)
        self._rank, self._world_size = 0, 1
        self.add_bos_token = False
        self.backend = self._make_backend(local)
        self.segment_loop = SegmentThinkingLoop(self.backend, self.tokenizer, self.segment_args.top_k, self.segment_args.entropy_estimator)
        self.policy = self.make_policy()
        self._chat_template_applied_by_lm_eval = False
        self.model_thinks = self.engine_args.think_end in (getattr(self.tokenizer, "chat_template", None) or "")

    def _make_backend(self, local_model: str):
        args = self.segment_args
        if self.backend_name == "openai":
            from ..backends.openai import OpenAICompletionsBackend

            if not args.base_url:
                raise CotbenchError(f"cotbench-{self.method_name}: backend=openai needs base_url= (e.g. http://127.0.0.1:8000/v1)")
            return OpenAICompletionsBackend(
                args.base_url, args.served_model or self.cotbench_pretrained, args.api_key or os.environ.get("OPENAI_API_KEY"),
                args.concurrency, args.timeout, args.retries, tokenizer=self.tokenizer if args.token_ids else None,
            )
        from ..backends.vllm.backend import VLLMBackend, load_vllm

        llm = load_vllm(local_model, args.tokenizer, args.dtype, args.tensor_parallel_size, args.gpu_memory_utilization,
                        args.max_model_len, self.engine_args.seed, trust_remote_code=False, kv_cache_memory_bytes=args.kv_cache_memory_bytes,
                        data_parallel_size=args.data_parallel_size, enforce_eager=args.enforce_eager)
        return VLLMBackend(llm)

    def chat_template(self, chat_template=False):
        return getattr(self.tokenizer, "chat_template", None)

    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
        self._chat_template_applied_by_lm_eval = True
        return self.tokenizer.apply_chat_template(chat_history, tokenize=False, add_generation_prompt=add_generation_prompt,
                                                  **self.segment_args.template_kwargs(f"cotbench-{self.method_name}"))

    def _prompt_text(self, context: str) -> str:
        """The template applied here when lm-eval did not (`chat_template=true`), with the same switches."""
        if self._chat_template_applied_by_lm_eval or not self.engine_args.chat_template or not getattr(self.tokenizer, "chat_template", None):
            return context
        return self.tokenizer.apply_chat_template([{"role": "user", "content": context}], tokenize=False, add_generation_prompt=True,
                                                  **self.segment_args.template_kwargs(f"cotbench-{self.method_name}"))

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise CotbenchError(f"cotbench-{self.method_name}: backend={self.backend_name} only generates (use generate_until tasks such as cot_*)")

    loglikelihood_rolling = loglikelihood

    def _encode_prompt(self, text: str) -> str:
        return text

    def run_batch(self, prompts, settings, seeds):
        began = time.perf_counter()
        pairs = self.segment_loop.run(prompts, settings, self.policy, seeds)
        wall = time.perf_counter() - began
        return [self._wrap(result, text, settings, wall, len(prompts), prompt) for (result, text), prompt in zip(pairs, prompts)]

    def get_model_info(self) -> dict:
        """lm-eval's results header: the model is served, so its size is not known here."""
        return {"model_backend": self.backend_name, "model_name": self.cotbench_pretrained,
                "base_url": self.segment_args.base_url}

    def describe(self) -> dict:
        info = super().describe()
        info["backend"] = {
            "name": self.backend_name,
            "support": self.segment_support,
            "top_k": self.segment_args.top_k,
            "entropy_estimator": self.segment_args.entropy_estimator,
            "base_url": self.segment_args.base_url if self.backend_name == "openai" else None,
            "chat_template_args": self.segment_args.template_kwargs(f"cotbench-{self.method_name}"),
        }
        return info


@lru_cache(maxsize=None)
def segment_adapter(adapter_class):
    """The segment-backend variant of an adapter class."""
    return type(f"Segment{adapter_class.__name__}", (SegmentMixin, adapter_class), {})

