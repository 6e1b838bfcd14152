"""`protocol=paper`: each method as its authors run it, one model_arg away.

`protocol=default` (the default) is cotbench's shared setting: every method decodes with the
task's generation kwargs, so methods are compared on equal terms. `protocol=paper` sets the
method's published decoding and budget (`decoding`, which overrides the task's gen_kwargs) and
its published constants (`method_args`, `engine_args`), with the source of each value. A
model_arg given explicitly still wins over the preset (the record then shows the value that
ran). The record's adapter block says which protocol ran (`protocol`, `protocol_source`).
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
