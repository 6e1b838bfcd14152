"""`protocol=paper`: each method as its authors run it, one model_arg away.

`protocol=default` (the default) is cotbench's shared setting: every method decodes with the
task's generation kwargs, so methods are compared on equal terms. `protocol=paper` sets the
method's published decoding and budget (`decoding`, which overrides the task's gen_kwargs) and
its published constants (`method_args`, `engine_args`), with the source of each value. A
model_arg given explicitly still wins over the preset (the record then shows the value that
ran). The record's adapter block says which protocol ran (`protocol`, `protocol_source`).

The published decoding wins over the request's gen_kwargs, `--gen_kwargs` included: lm-eval
hands an adapter the task's generation_kwargs with --gen_kwargs already merged in, so the two
cannot be told apart, and a "paper" run that decodes as the user typed would not be the paper's.
It is never silent: each overridden setting is one stderr line per run naming both values, and
every record keeps both (`adapter.decoding`: what ran; `adapter.protocol_overrides`:
{setting: {"requested": x, "used": y}}). To decode as requested, run `protocol=default`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cotbench.errors import CotbenchError

PROTOCOLS = ("default", "paper")
GREEDY = {"temperature": 0.0, "do_sample": False}


@dataclass(frozen=True)
class Protocol:
    source: str  # where the settings come from (paper section, official file)
    decoding: dict = field(default_factory=dict)  # gen_kwargs overrides: temperature, top_p, max_gen_toks
    method_args: dict = field(default_factory=dict)
    engine_args: dict = field(default_factory=dict)


DEFAULT_PROTOCOL = Protocol(source="cotbench: the task's generation kwargs, the method's defaults")


def resolve_protocol(kwargs: dict, paper: Protocol | None, method: str) -> tuple[str, Protocol]:
    """Pop `protocol` from model_args; for `paper`, fill the preset into `kwargs` (explicit
    model_args win) and return the decoding overrides to apply to every request."""
    name = str(kwargs.pop("protocol", "default")).lower()
    if name not in PROTOCOLS:
        raise CotbenchError(f"{method}: protocol={name!r} is invalid (expected default or paper)")
    if name == "default":
        return name, DEFAULT_PROTOCOL
    if paper is None:
        raise CotbenchError(f"{method}: protocol=paper is not defined for this method (no published protocol)")
    for key, value in {**paper.method_args, **paper.engine_args}.items():
        kwargs.setdefault(key, value)
    return name, paper


# A request may name the generation budget either way (lm-eval's and transformers' spelling).
REQUEST_ALIASES = {"max_gen_toks": ("max_gen_toks", "max_new_tokens")}


def _same(requested, used) -> bool:
    """Whether two spellings of a setting mean the same value ("0.6" and 0.6, 0 and False)."""
    try:
        return float(requested) == float(used)
    except (TypeError, ValueError):
        return str(requested).strip().lower() == str(used).strip().lower()


def protocol_overrides(gen_kwargs: dict, protocol: Protocol) -> dict:
    """{setting: {"requested": x, "used": y}} for each setting the protocol's decoding replaces with
    a value other than the one the request named (a setting the request leaves out is not listed)."""
    overrides = {}
    for name, used in protocol.decoding.items():
        requested = next((gen_kwargs[key] for key in REQUEST_ALIASES.get(name, (name,)) if key in gen_kwargs), None)
        if requested is not None and not _same(requested, used):
            overrides[name] = {"requested": requested, "used": used}
    return overrides


def override_line(name: str, values: dict) -> str:
    """The one-line warning for an overridden setting, naming both values."""
    return (f"protocol=paper runs {name}={values['used']!r}, not the requested {name}={values['requested']!r} "
            "(the paper's decoding wins over the task's and --gen_kwargs; records keep both in adapter.protocol_overrides; "
            "protocol=default decodes as requested)")
