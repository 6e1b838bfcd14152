"""The adapter: one lm-eval model class per method, built the same way on every backend.

`CotbenchLM.__init__` resolves the method's arguments (`protocol=paper`'s preset first, then the
engine's, the method's and the chat template's) and then builds a runner that reaches the model:
`backend=hf` (default, `hf.py`: lm-eval's `HFLM` loads it, the HF engine decodes) or `vllm` /
`openai` (`segment.py`: a segment backend and the segment loop). What must not differ between
backends lives here once: the chat template with its switches on every path, decode settings,
the journal, batching and the per-generation record (`GenerationText.cotbench`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict

import jinja2
from lm_eval.api.model import LM, TemplateLM
from tqdm import tqdm

from cotbench.errors import CotbenchError

from ...record import GenerationRecord, GenerationText
from ..backends.model_loading import resolve_pretrained
from ..loop.row import DecodeSettings, RowResult, decoding_record
from ..policy import ThinkingPolicy
from .accounting import thinking_through_last_marker
from .args import ChatTemplateArgs, EngineArgs, parse_method_args, require, unescape
from .hf import HFRunner
from .journal import Journal, request_key
from .protocol import Protocol, override_line, protocol_overrides, resolve_protocol
from .request_rows import RequestRow, request_rows

DEFAULT_MODEL = "smollm2-135m"
BACKENDS = ("hf", "vllm", "openai")
# max_gen_toks of a request whose task names none: lm-eval's HFLM default, on every backend.
DEFAULT_MAX_GEN_TOKS = 256
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


def runner_class(backend: str, method: str):
    """The runner of `backend=`; the segment runner is imported only when asked for (it brings the
    segment loop and, on demand, vLLM or an HTTP client)."""
    if backend == "hf":
        return HFRunner
    if backend not in BACKENDS:
        raise CotbenchError(f"{method}: backend={backend!r}: expected {', '.join(BACKENDS)}")
    from .segment import SegmentRunner

    return SegmentRunner


class CotbenchLM(LM):
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

    def __init__(self, pretrained: str = DEFAULT_MODEL, gguf_file: str | None = None, backend: str = "hf", **kwargs):
        super().__init__()
        method = f"cotbench-{self.method_name}"
        runner = runner_class(str(backend), method)
        if backend != "hf" and self.segment_support is None:
            raise CotbenchError(f"{method}: backend={backend} cannot run this method ({self.segment_unsupported_reason}); use backend=hf")
        self.protocol, self.protocol_settings, self.engine_args, self.method_args = self.resolve_arguments(kwargs)
        self.chat_template_args = parse_method_args(ChatTemplateArgs, kwargs, method).template_kwargs(method)
        unknown = sorted(set(kwargs) - runner.ARGUMENTS)
        if unknown:
            ours = sorted({*asdict(self.engine_args), *asdict(ChatTemplateArgs()), *(asdict(self.method_args) if self.method_args else ())})
            raise CotbenchError(f"{method}: unknown model_arg {unknown[0]!r} for backend={backend} "
                                f"(method arguments: {', '.join(ours)}; {runner.OTHER_ARGUMENTS})")
        self.cotbench_pretrained = pretrained
        self.support = "exact" if backend == "hf" else self.segment_support
        self.runner = runner(backend, pretrained, resolve_pretrained(pretrained, gguf_file), kwargs, method, self.engine_args.seed)
        self.tokenizer, self.model = self.runner.tokenizer, self.runner.model  # model: None where it is served
        self._rank, self._world_size, self._device = self.runner.rank, self.runner.world_size, self.runner.device
        self.policy = self.make_policy()
        self._chat_template_applied_by_lm_eval = False
        self.overrides_warned: set[tuple[str, str]] = set()  # (setting, requested): warned once per run
        # Whether this model thinks at all: its template knows the end-of-thinking marker.
        self.model_thinks = self.engine_args.think_end in (getattr(self.tokenizer, "chat_template", None) or "")

    @classmethod
    def resolve_arguments(cls, kwargs: dict):
        """(protocol name, Protocol, EngineArgs, MethodArgs) from model_args, whose keys are
        consumed: `protocol=paper` fills in the published preset first."""
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
            # Where the tokenizer loaded from (an alias resolved to its folder): the grader counts
            # the thinking's steps with it, never looking the alias up on the hub.
            "tokenizer": self.tokenizer.name_or_path,
            "saves_compute": self.saves_compute,
            "protocol": self.protocol,
            "protocol_source": self.protocol_settings.source,
            "protocol_decoding": dict(self.protocol_settings.decoding),
            "chat_template_args": self.chat_template_args,
            "backend": {**self.runner.describe(), "support": self.support},
            # Whether the chat template knows the end-of-thinking marker: a model that never
            # thinks has no thinking left open (the grader's acc_closed reads this).
            "model_thinks": getattr(self, "model_thinks", True),
        }

    # -- the chat template, with its switches, on every path and backend -----------------------
    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
        """lm-eval's path (`--apply_chat_template`)."""
        self._chat_template_applied_by_lm_eval = True
        return self._render_chat(chat_history, add_generation_prompt)

    def _prompt_text(self, context: str) -> str:
        """Ours (`chat_template=true`) when lm-eval applied no template, with the same switches."""
        if self._chat_template_applied_by_lm_eval or not self.engine_args.chat_template or not getattr(self.tokenizer, "chat_template", None):
            return context
        return self._render_chat([{"role": "user", "content": context}])

    def _render_chat(self, chat_history, add_generation_prompt: bool = True) -> str:
        """As lm-eval's HFLM renders a chat (a template that refuses the system role gets the history
        without it), with `enable_thinking` / `chat_template_args` applied."""

        def render(history):
            return self.tokenizer.apply_chat_template(history, tokenize=False, add_generation_prompt=add_generation_prompt,
                                                      continue_final_message=not add_generation_prompt, **self.chat_template_args)

        try:
            return render(chat_history)
        except jinja2.exceptions.TemplateError:
            logging.getLogger(__name__).warning("%s: the chat template failed; rendering without the system role", self.method_name)
            return render([message for message in chat_history if message["role"] != "system"])

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        """The template lm-eval records with the results, chosen by lm-eval's own rule (`TemplateLM`'s,
        which reads only `self.tokenizer`)."""
        return TemplateLM.chat_template(self, chat_template)

    @property
    def tokenizer_name(self) -> str:
        """lm-eval's request-cache fingerprint of the template (HFLM's rule)."""
        return self.tokenizer.name_or_path.replace("/", "__")

    # -- what lm-eval asks of a model besides generation: the runner's ------------------------
    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return self.runner.loglikelihood(requests, disable_tqdm)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        return self.runner.loglikelihood_rolling(requests, disable_tqdm)

    def get_model_info(self) -> dict:
        return self.runner.model_info()

    def all_gather(self, tensor):
        return self.runner.all_gather(tensor)

    def gather_object(self, obj, dst=0):
        return self.runner.gather_object(obj, dst)

    def barrier(self) -> None:
        self.runner.barrier()

    def set_cache_hook(self, cache_hook) -> None:
        super().set_cache_hook(cache_hook)
        self.runner.set_cache_hook(cache_hook)

    # -- generation -----------------------------------------------------------------------------
    def protocol_overrides(self, gen_kwargs: dict) -> dict:
        """{setting: {"requested": x, "used": y}} for each setting `protocol=paper` replaces with a
        different value than the request (the task's generation_kwargs with --gen_kwargs) asked."""
        return protocol_overrides(gen_kwargs, self.protocol_settings)

    def _warn_overrides(self, overrides: dict) -> None:
        """One stderr line per overridden setting and requested value, once per run (not per request)."""
        for name, values in overrides.items():
            if (name, repr(values["requested"])) not in self.overrides_warned:
                self.overrides_warned.add((name, repr(values["requested"])))
                print(f"cotbench-{self.method_name}: {override_line(name, values)}", file=sys.stderr)

    def _settings(self, gen_kwargs: dict) -> DecodeSettings:
        method = f"cotbench-{self.method_name}"
        self._warn_overrides(self.protocol_overrides(gen_kwargs))
        gen_kwargs = {**gen_kwargs, **self.protocol_settings.decoding}  # protocol=paper: published decoding wins (protocol.py)
        unknown = sorted(set(gen_kwargs) - _GEN_KWARGS)
        if unknown:
            raise CotbenchError(f"{method}: unsupported generation kwarg {unknown[0]!r} (expected some of {', '.join(sorted(_GEN_KWARGS))})")
        until = gen_kwargs.get("until") or []
        if isinstance(until, str):
            until = [until]
        max_new = int(gen_kwargs.get("max_gen_toks", gen_kwargs.get("max_new_tokens", DEFAULT_MAX_GEN_TOKS)))
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

    def _journal_keys(self, requests, rows: list[RequestRow]) -> list[str]:
        """A journal key per request: the adapter and its arguments, the prompt, the gen_kwargs and
        the request's (task, doc_id, repeat), which with the seed fix what it generates."""
        identity = self.describe()
        identity["engine_args"] = {k: v for k, v in identity["engine_args"].items() if k != "journal"}
        if isinstance(identity.get("backend"), dict):  # where a request ran is not what it asked: a rerun on other servers resumes
            identity["backend"] = {k: v for k, v in identity["backend"].items() if k != "base_url"}
        return [request_key(identity, request.args[0], request.args[1], [row.task, row.doc_id, row.repeat])
                for request, row in zip(requests, rows)]

    def policy_for(self, row: RequestRow) -> tuple[ThinkingPolicy, dict]:
        """The policy a request runs with and what its record's `method_args` add about that choice.
        One policy for every request by default; EntroCut picks τ by the request's task."""
        return self.policy, {}

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Each request generates with its row seed (`request_rows.py`: a function of its task,
        document and repeat, not of its place in the list) and its policy, in batches of requests
        that share gen_kwargs and policy; the journal restores finished rows first."""
        outputs: list[str | None] = [None] * len(requests)
        rows = request_rows(requests)
        journal = Journal(self.engine_args.journal) if self.engine_args.journal else None
        keys = self._journal_keys(requests, rows) if journal else []
        groups: dict[tuple, list[int]] = {}
        for i, request in enumerate(requests):
            if journal and journal.get(keys[i]) is not None:
                outputs[i] = journal.get(keys[i])
                continue
            groups.setdefault((json.dumps(request.args[1], sort_keys=True, default=str), id(self.policy_for(rows[i])[0])), []).append(i)
        restored = sum(output is not None for output in outputs)
        if restored:
            print(f"cotbench: {restored} of {len(requests)} generations restored from the journal {self.engine_args.journal}", file=sys.stderr)
        progress = tqdm(total=len(requests), initial=restored, disable=disable_tqdm or self.rank != 0, desc=f"cotbench-{self.method_name}")
        failures: list[str] = []
        for indices in groups.values():
            for i, text in self._generate_group(requests, rows, indices):
                outputs[i] = text
                if text.cotbench.finish_reason == "error":  # kept out of journal and cache: a rerun retries it
                    failures.append(text.cotbench.error or "unknown")
                else:
                    if journal:
                        journal.add(keys[i], text)
                    self.cache_hook.add_partial("generate_until", requests[i].args, text)
                progress.update(1)
        progress.close()
        self._report_failures(failures, len(requests) - restored)
        return outputs

    def _report_failures(self, failures: list[str], attempted: int) -> None:
        """Rows whose request failed for good (a segment backend's server) are recorded, graded
        `request_failed` and named here in one line; when every row failed there is nothing to
        record, so the run stops with the reason."""
        if not failures:
            return
        method = f"cotbench-{self.method_name}"
        if len(failures) == attempted:
            raise CotbenchError(f"{method}: every generation failed ({attempted}); the first: {failures[0]}")
        print(f"{method}: {len(failures)} of {attempted} generations failed; they are recorded with finish_reason=error, graded "
              f"request_failed and kept out of the journal, so a rerun retries them. The first: {failures[0]}", file=sys.stderr)

    def _generate_group(self, requests, rows: list[RequestRow], indices: list[int]):
        """(index, text) for requests that share gen_kwargs and policy, in batches of similar prompt
        lengths; each record is stamped with its row and what the protocol overrode."""
        gen_kwargs = requests[indices[0]].args[1]
        settings, overrides = self._settings(gen_kwargs), self.protocol_overrides(gen_kwargs)
        policy = self.policy_for(rows[indices[0]])[0]
        batch_size = max(1, int(self.runner.batch_size) if str(self.runner.batch_size).isdigit() else 1)
        prompts = {i: self.runner.encode_prompt(self._prompt_text(requests[i].args[0])) for i in indices}
        order = sorted(indices, key=lambda i: -len(prompts[i]))  # similar lengths share a batch
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            seeds = [rows[i].seed_offset for i in batch]
            # A method whose run_batch takes no policy (step entropy's two passes) has only the one.
            texts = (self.run_batch([prompts[i] for i in batch], settings, seeds) if policy is self.policy
                     else self.run_batch([prompts[i] for i in batch], settings, seeds, policy=policy))
            for i, text in zip(batch, texts):
                self._stamp(text.cotbench, rows[i], settings, overrides)
                yield i, text

    def _stamp(self, record: GenerationRecord, row: RequestRow, settings: DecodeSettings, overrides: dict) -> None:
        """Add to a record what depends on the request, not the adapter: which request (task, doc_id,
        repeat, row seed), the policy's choice for it, and what protocol=paper overrode."""
        record.adapter["request"] = row.record(settings.seed)
        record.adapter["protocol_overrides"] = {name: dict(values) for name, values in overrides.items()}
        record.adapter["method_args"] = {**record.adapter.get("method_args", {}), **self.policy_for(row)[1]}

    def run_batch(self, prompts: list, settings: DecodeSettings, seeds: list[int], policy: ThinkingPolicy | None = None) -> list[GenerationText]:
        """Generate one batch (prompts: token ids on hf, texts on segment backends; seeds: each row's
        offset from the base seed; policy: the adapter's unless `policy_for` chose another). Methods
        that need more than one pass (step entropy) override this and still record through `generation_text`."""
        began = time.perf_counter()
        outputs = self.runner.run(prompts, settings, policy or self.policy, seeds)
        wall = time.perf_counter() - began
        return [self.generation_text(result, text, settings, wall, len(prompts), prompt) for (result, text), prompt in zip(outputs, prompts)]

    def annotate(self, record: GenerationRecord, result: RowResult, prompt, text: str) -> None:
        """Add method-specific fields (`record.method_fields`: analyses, [SKIP] counts)."""

    def generation_text(self, result: RowResult, text: str, settings: DecodeSettings, wall_s: float, batch_rows: int, prompt,
                        method_fields: dict | None = None) -> GenerationText:
        """The generation with its record: token accounting, probes, the adapter's identity and
        decoding. Every record of every method and backend is made here."""
        for stop in settings.stop_strings:
            if stop and stop in text:
                text = text.split(stop)[0]
        closed = result.closed_by is not None
        thinking = result.kinds.count("thinking") if (closed or self.model_thinks) else 0
        total = len(result.kinds)  # kinds: one per generated token, on every backend
        if closed:  # a marker written twice: the grader's split counts through the last (accounting.py)
            thinking = thinking_through_last_marker(self.tokenizer, result.token_ids, text, settings.think_end, thinking)
        record = GenerationRecord(
            thinking_tokens=thinking,
            answer_tokens=total - thinking,
            probe_tokens=result.probe_tokens,
            total_tokens=total,
            truncated=result.finish_reason == "length",
            finish_reason=result.finish_reason,
            error=result.error,
            think_end=settings.think_end,
            closed_by=result.closed_by,
            cut_position=result.cut_position,
            cut_reason=result.cut_reason,
            probes=result.probes,
            forced=result.forced,
            batch_wall_s=round(wall_s, 4),
            batch_rows=batch_rows,
            adapter={**self.describe(), "decoding": decoding_record(settings)},
            method_fields=dict(method_fields or {}),
        )
        self.annotate(record, result, prompt, text)
        return GenerationText(text, record)
