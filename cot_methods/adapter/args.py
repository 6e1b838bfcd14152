"""Typed, validated model_args: every method constant is a named field with a default.

`parse_method_args` pops a dataclass's fields out of lm-eval's model_args (strings or
already-typed values), coerces them to the field's type and runs its `validate()`. A bad
value is one CotbenchError naming the argument, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass

from cotbench.errors import CotbenchError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _coerce(method: str, name: str, value, annotation):
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or (origin is not None and type(None) in args):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        annotation = next(a for a in args if a is not type(None))
        origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in _TRUE | _FALSE:
            return str(value).lower() in _TRUE
        raise CotbenchError(f"{method}: {name}={value!r} is not a boolean (expected true or false)")
    if annotation in (int, float):
        if isinstance(value, bool):
            raise CotbenchError(f"{method}: {name}={value!r} is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise CotbenchError(f"{method}: {name}={value!r} is not a number") from None
        if annotation is int:
            if number != int(number):
                raise CotbenchError(f"{method}: {name}={value!r} is not an integer")
            return int(number)
        return number
    if origin is tuple:  # a "|"-separated list on the command line
        if isinstance(value, (list, tuple)):
            return tuple(str(v) for v in value)
        return tuple(part for part in str(value).split("|"))
    return str(value) if annotation is str else value


def parse_method_args(cls, kwargs: dict, method: str):
    """Instantiate dataclass `cls` from the matching keys of `kwargs` (which are removed)."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.init and f.name in kwargs:
            values[f.name] = _coerce(method, f.name, kwargs.pop(f.name), hints[f.name])
    instance = cls(**values)
    if hasattr(instance, "validate"):
        instance.validate(method)
    return instance


def require(condition: bool, method: str, name: str, value, expected: str) -> None:
    if not condition:
        raise CotbenchError(f"{method}: {name}={value!r} is invalid (expected {expected})")


def unescape(text: str) -> str:
    """Command-line friendly escapes in probe / close texts: \\n and \\t."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


@dataclass
class EngineArgs:
    """Arguments every cotbench adapter takes (besides HFLM's own)."""

    think_end: str = "</think>"  # the model's end-of-thinking marker
    close_text: str = "\\n</think>\\n\\n"  # appended when a method cuts thinking (\n escapes allowed)
    answer_budget: int | None = None  # max answer tokens after a method's cut (not after the model's own close); None: the rest of max_gen_toks
    entropy_unit: str = "nats"  # nats | bits
    seed: int = 1234  # base sampling seed: each request adds its task, doc_id and repeat's offset (request_rows.py)
    chat_template: bool = True  # apply the model's chat template if lm-eval did not
    journal: str | None = None  # JSONL file of finished generations: a rerun resumes from it

    def validate(self, method: str) -> None:
        require(bool(self.think_end), method, "think_end", self.think_end, "a non-empty marker such as </think>")
        require(self.entropy_unit in ("nats", "bits"), method, "entropy_unit", self.entropy_unit, "nats or bits")
        require(self.answer_budget is None or self.answer_budget > 0, method, "answer_budget", self.answer_budget, "a positive integer")


@dataclass
class ChatTemplateArgs:
    """The chat template's switches, taken on every backend under lm-eval's HFLM/VLLM names and
    applied on every template path (`base.py`): Qwen3's `enable_thinking=false` renders an empty
    <think></think> block."""

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
        self.template_kwargs(method)
