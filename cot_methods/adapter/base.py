"""The adapter base: lm-eval's HF model class with generation routed through the thinking loop.

Loading, tokenisation, devices and batching come from lm-eval's `HFLM`; `generate_until`
is ours, so every method (a `ThinkingPolicy`) decodes through the same `ThinkingEngine` and
every generation comes back with exact token accounting (`GenerationText.cotbench`).
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from dataclasses import asdict

from lm_eval.models.huggingface import HFLM
from tqdm import tqdm

from cotbench.errors import CotbenchError

from ...record import GenerationRecord, GenerationText
from ..backends.model_loading import resolve_pretrained
from ..loop.hf_engine import ThinkingEngine
from ..loop.row import DecodeSettings, decoding_record
from ..policy import ThinkingPolicy
from .args import EngineArgs, parse_method_args, require, unescape
from .journal import Journal, request_key
from .protocol import Protocol, resolve_protocol

DEFAULT_MODEL = "smollm2-135m"
# from_pretrained options users commonly pass through model_args besides HFLM's own.
_PASS_THROUGH = {"attn_implementation", "low_cpu_mem_usage", "device_map", "torch_dtype"}
_HFLM_ARGS = set(inspect.signature(HFLM.__init__).parameters) - {"self", "kwargs"}
_GEN_KWARGS = {"until", "max_gen_toks", "do_sample", "temperature", "top_p", "seed", "max_new_tokens", "top_k", "min_p",
               "presence_penalty", "repetition_penalty"}


def _gen_number(gen_kwargs: dict, name: str, default, method: str, integer: bool = False):
    """A numeric gen_kwarg, or one line naming it."""
    value = gen_kwargs.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CotbenchError(f"{method}: {name}={value!r} is not a number") from None
    require(not integer or number == int(number), method, name, value, "an integer")
    return int(number) if integer else number


class CotbenchLM(HFLM):
    """Base of every `cotbench-<method>` adapter. Subclasses set `method_name`,
    `MethodArgs` (a dataclass of the method's constants) and `make_policy`."""

    method_name = "vanilla"
    MethodArgs = None
    # How this method runs on segment backends (vLLM, OpenAI-compatible servers): "exact",
    # "approximate" (entropies from top-k logprobs), or None with the reason it cannot.
    segment_support: str | None = "exact"
    segment_unsupported_reason = ""
    # The method's published decoding, budget and constants (`protocol=paper`, protocol.py).
    PAPER_PROTOCOL: Protocol | None = None
    # False for post-hoc methods (step entropy) that decode the full thinking anyway: their
    # thinking-token reduction is no saving of generated tokens (reports read this flag).
    saves_compute = True

    # -- backend selection: `backend=hf` (default) | `vllm` | `openai` ---------------------
    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None):
        from lm_eval import utils

        return cls.create_from_arg_obj(utils.simple_parse_args_string(arg_string), additional_config)

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict, additional_config: dict | None = None):
        arg_dict = dict(arg_dict)
        backend = str(arg_dict.pop("backend", "hf"))
        extra = {k: v for k, v in (additional_config or {}).items() if v is not None}
        if backend == "hf":
            return cls(**arg_dict, **extra)
        from .segment import SEGMENT_BACKENDS, segment_adapter

        if backend not in SEGMENT_BACKENDS:
            raise CotbenchError(f"cotbench-{cls.method_name}: backend={backend!r}: expected hf, {', '.join(SEGMENT_BACKENDS)}")
        return segment_adapter(cls)(backend=backend, **arg_dict, **extra)

    def __init__(self, pretrained: str = DEFAULT_MODEL, gguf_file: str | None = None, **kwargs):
        method = f"cotbench-{self.method_name}"
        self.protocol, self.protocol_settings, self.engine_args, self.method_args = self.resolve_arguments(kwargs)
        unknown = sorted(set(kwargs) - _HFLM_ARGS - _PASS_THROUGH)
        if unknown:
            allowed = sorted(set(asdict(self.engine_args)) | set(asdict(self.method_args) if self.method_args else ()))
            raise CotbenchError(
                f"{method}: unknown model_arg {unknown[0]!r} (method arguments: {', '.join(allowed)}; "
                "or any argument of lm-eval's hf model)"
            )
        kwargs.setdefault("device", None)
        self.cotbench_pretrained = pretrained
        super().__init__(pretrained=resolve_pretrained(pretrained, gguf_file), **kwargs)
        self.thinking_engine = ThinkingEngine(self.model, self.tokenizer)
        self.policy = self.make_policy()
        self._chat_template_applied_by_lm_eval = False
        template = getattr(self.tokenizer, "chat_template", None) or ""
        # Whether this model thinks at all: its template knows the end-of-thinking marker.
        self.model_thinks = self.engine_args.think_end in template

    @classmethod
    def resolve_arguments(cls, kwargs: dict):
        """(protocol name, Protocol, EngineArgs, MethodArgs) from model_args, whose keys are
        consumed: `protocol=paper` fills in the published preset first (both backends call this)."""
        method = f"cotbench-{cls.method_name}"
        protocol, settings = resolve_protocol(kwargs, cls.PAPER_PROTOCOL, method)
        engine_args = parse_method_args(EngineArgs, kwargs, method)
        method_args = parse_method_args(cls.MethodArgs, kwargs, method) if cls.MethodArgs else None
        return protocol, settings, engine_args, method_args

    # -- what a method provides -------------------------------------------------------
    def make_policy(self) -> ThinkingPolicy:
        return ThinkingPolicy()

    def describe(self) -> dict:
        """Adapter and arguments, recorded with every generation."""
        return {
            "method": self.method_name,
            "method_args": asdict(self.method_args) if self.method_args else {},
            "engine_args": asdict(self.engine_args),
            "pretrained": self.cotbench_pretrained,
            "saves_compute": self.saves_compute,
            "protocol": self.protocol,
            "protocol_source": self.protocol_settings.source,
            "protocol_decoding": dict(self.protocol_settings.decoding),
            # Whether the chat template knows the end-of-thinking marker: a model that never
            # thinks has no thinking left open (the grader's acc_closed reads this).
            "model_thinks": getattr(self, "model_thinks", True),
        }

    # -- lm-eval hooks ------------------------------------------------------------------
    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
        self._chat_template_applied_by_lm_eval = True
        return super().apply_chat_template(chat_history, add_generation_prompt)

    def _prompt_text(self, context: str) -> str:
        if self._chat_template_applied_by_lm_eval or not self.engine_args.chat_template:
            return context
        if not getattr(self.tokenizer, "chat_template", None):
            return context
        return self.tokenizer.apply_chat_template(
            [{"role": "user", "content": context}], tokenize=False, add_generation_prompt=True
        )

    def _settings(self, gen_kwargs: dict) -> DecodeSettings:
        method = f"cotbench-{self.method_name}"
        gen_kwargs = {**gen_kwargs, **self.protocol_settings.decoding}  # protocol=paper: published decoding wins
        unknown = sorted(set(gen_kwargs) - _GEN_KWARGS)
        if unknown:
            raise CotbenchError(f"{method}: unsupported generation kwarg {unknown[0]!r} (expected some of {', '.join(sorted(_GEN_KWARGS))})")
        until = gen_kwargs.get("until") or []
        if isinstance(until, str):
            until = [until]
        max_new = int(gen_kwargs.get("max_gen_toks", gen_kwargs.get("max_new_tokens", self.max_gen_toks)))
        require(max_new > 0, method, "max_gen_toks", max_new, "a positive integer")
        temperature = float(gen_kwargs.get("temperature", 0.0))
        do_sample = bool(gen_kwargs.get("do_sample", temperature > 0)) and temperature > 0
        eos = {self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set()
        generation_eos = getattr(getattr(getattr(self, "model", None), "generation_config", None), "eos_token_id", None)
        if generation_eos is not None:
            eos |= set(generation_eos if isinstance(generation_eos, list) else [generation_eos])
        top_p, min_p = _gen_number(gen_kwargs, "top_p", 1.0, method), _gen_number(gen_kwargs, "min_p", 0.0, method)
        top_k = _gen_number(gen_kwargs, "top_k", 0, method, integer=True)
        presence = _gen_number(gen_kwargs, "presence_penalty", 0.0, method)
        repetition = _gen_number(gen_kwargs, "repetition_penalty", 1.0, method)
        require(0 < top_p <= 1, method, "top_p", top_p, "a probability in (0, 1]")
        require(top_k >= 0, method, "top_k", top_k, "an integer >= 0 (0: off)")
        require(0 <= min_p <= 1, method, "min_p", min_p, "a probability in [0, 1] (0: off)")
        require(-2 <= presence <= 2, method, "presence_penalty", presence, "a number in [-2, 2], as OpenAI and vLLM take it")
        require(repetition > 0, method, "repetition_penalty", repetition, "a positive number (1: off)")
        return DecodeSettings(
            max_new_tokens=max_new,
            do_sample=do_sample,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            min_p=min_p,
            presence_penalty=presence,
            repetition_penalty=repetition,
            seed=int(gen_kwargs.get("seed", self.engine_args.seed)),
            stop_strings=tuple(until),
            eos_token_ids=frozenset(eos),
            think_end=self.engine_args.think_end,
            close_text=unescape(self.engine_args.close_text),
            answer_budget=self.engine_args.answer_budget,
            entropy_unit=self.engine_args.entropy_unit,
        )

    def _journal_keys(self, requests) -> list[str]:
        identity = self.describe()
        identity["engine_args"] = {k: v for k, v in identity["engine_args"].items() if k != "journal"}
        if isinstance(identity.get("backend"), dict):  # where a request ran is not what it asked: a rerun on other servers resumes
            identity["backend"] = {k: v for k, v in identity["backend"].items() if k != "base_url"}
        seen: dict[str, int] = {}
        keys = []
        for request in requests:
            context, gen_kwargs = request.args[0], request.args[1]
            base = json.dumps([context, gen_kwargs], sort_keys=True, default=str)
            seen[base] = seen.get(base, 0) + 1
            keys.append(request_key(identity, context, gen_kwargs, seen[base]))
        return keys

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        outputs: list[str | None] = [None] * len(requests)
        journal = Journal(self.engine_args.journal) if self.engine_args.journal else None
        keys = self._journal_keys(requests) if journal else []
        groups: dict[str, list[int]] = {}
        restored = 0
        for i, request in enumerate(requests):
            if journal and journal.get(keys[i]) is not None:
                outputs[i] = journal.get(keys[i])
                restored += 1
                continue
            groups.setdefault(json.dumps(request.args[1], sort_keys=True, default=str), []).append(i)
        if restored:
            print(f"cotbench: {restored} of {len(requests)} generations restored from the journal {self.engine_args.journal}", file=sys.stderr)
        batch_size = max(1, int(self.batch_size) if str(self.batch_size).isdigit() else 1)
        progress = tqdm(total=len(requests), initial=restored, disable=disable_tqdm or self.rank != 0, desc=f"cotbench-{self.method_name}")
        for key, indices in groups.items():
            settings = self._settings(requests[indices[0]].args[1])
            prompts = {i: self._encode_prompt(self._prompt_text(requests[i].args[0])) for i in indices}
            order = sorted(indices, key=lambda i: -len(prompts[i]))  # similar lengths share a batch
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                texts = self.run_batch([prompts[i] for i in batch], settings, batch)
                for i, text in zip(batch, texts):
                    outputs[i] = text
                    if journal:
                        journal.add(keys[i], text)
                    self.cache_hook.add_partial("generate_until", requests[i].args, text)
                progress.update(len(batch))
        progress.close()
        return outputs

    def _encode_prompt(self, text: str):
        """What `run_batch` takes as a prompt: token ids here, the text on segment backends."""
        return self.tok_encode(text)

    def run_batch(self, prompts: list[list[int]], settings: DecodeSettings, seeds: list[int]) -> list[GenerationText]:
        """Generate one batch. Methods that need more than one pass (step entropy) override this."""
        began = time.perf_counter()
        results = self.thinking_engine.run(prompts, settings, self.policy, row_seeds=seeds)
        wall = time.perf_counter() - began
        return [self._to_text(result, settings, wall, len(prompts), prompt) for result, prompt in zip(results, prompts)]

    def annotate(self, record: GenerationRecord, result, prompt_ids: list[int], text: str) -> None:
        """Add method-specific fields (`record.method_fields`: analyses, [SKIP] counts)."""

    def _to_text(self, result, settings: DecodeSettings, wall_s: float, batch_rows: int, prompt_ids: list[int]) -> GenerationText:
        return self._wrap(result, self.thinking_engine.decode(result.token_ids), settings, wall_s, batch_rows, prompt_ids)

    def _wrap(self, result, text: str, settings: DecodeSettings, wall_s: float, batch_rows: int, prompt) -> GenerationText:
        """The generation with its record: token accounting, probes, the adapter's identity."""
        for stop in settings.stop_strings:
            if stop and stop in text:
                text = text.split(stop)[0]
        closed = result.closed_by is not None
        thinking = result.kinds.count("thinking") if (closed or self.model_thinks) else 0
        total = len(result.kinds)  # kinds: one per generated token, on every backend
        record = GenerationRecord(
            thinking_tokens=thinking,
            answer_tokens=total - thinking,
            probe_tokens=result.probe_tokens,
            total_tokens=total,
            truncated=result.finish_reason == "length",
            finish_reason=result.finish_reason,
            think_end=settings.think_end,
            closed_by=result.closed_by,
            cut_position=result.cut_position,
            cut_reason=result.cut_reason,
            probes=result.probes,
            forced=getattr(result, "forced", None),
            batch_wall_s=round(wall_s, 4),
            batch_rows=batch_rows,
            adapter={**self.describe(), "decoding": decoding_record(settings)},
        )
        self.annotate(record, result, prompt, text)
        return GenerationText(text, record)
