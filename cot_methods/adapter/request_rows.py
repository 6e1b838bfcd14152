"""Who a generation request is: its task, document and repeat, and the row seed they give.

A sampled generation must not change when the mix or order of requests does (another task in
the run, `--limit`, a journal resume), so its seed is a function of what it is, never of where
it stands in lm-eval's list. lm-eval's `Instance` carries `task_name` and `doc_id`, and repeats
a request by listing the same instance N times (`cotbench eval --repeats N`); the k-th listing
is repeat k.

The rule (documented in docs/FIDELITY.md): row seed = base seed (`seed=` / gen_kwargs `seed`)
+ int(sha256(JSON [base task, document, repeat])) mod 2**30, where the base task is the task
without `--repeats`' `_kN` suffix (`cotbench/repeats.py`), so repeat 0 of `cot_amc23_k16` is the
same sample as `cot_amc23`'s, and the document is lm-eval's `doc_id` (the prompt text for a
request without one, as in direct calls).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ...repeats import split_repeats

# Seed offsets stay below 2**30 so that base seed + offset (+ a loop's fixed stream offsets) fits
# the signed 32-bit seed some servers accept.
SEED_RANGE = 2**30


@dataclass(frozen=True)
class RequestRow:
    task: str | None  # lm-eval's task name (cot_amc23_k16 under --repeats); None in direct calls
    doc_id: int | None  # lm-eval's document id; None in direct calls
    document: object  # what names the document for the seed: doc_id, else the prompt text
    repeat: int  # 0 .. N-1: which listing of the same request this is

    @property
    def base_task(self) -> str | None:
        """The task a `--repeats` variant repeats (`cot_amc23` for `cot_amc23_k16`)."""
        return split_repeats(self.task)[0] if self.task else self.task

    @property
    def seed_offset(self) -> int:
        """This row's offset from the base seed: a hash of (base task, document, repeat)."""
        payload = json.dumps([self.base_task, self.document, self.repeat], sort_keys=True, default=str)
        return int(hashlib.sha256(payload.encode("utf-8")).hexdigest(), 16) % SEED_RANGE

    def record(self, base_seed: int) -> dict:
        """What the per-generation record says about the row (`adapter.request`)."""
        return {"task": self.task, "doc_id": self.doc_id, "repeat": self.repeat, "seed": base_seed + self.seed_offset}


def request_rows(requests) -> list[RequestRow]:
    """One RequestRow per lm-eval request; repeats are counted per (task, document)."""
    seen: dict[str, int] = {}
    rows = []
    for request in requests:
        task, doc_id = getattr(request, "task_name", None), getattr(request, "doc_id", None)
        document = doc_id if doc_id is not None else request.args[0]
        name = json.dumps([task, document], default=str)
        rows.append(RequestRow(task, doc_id, document, seen.get(name, 0)))
        seen[name] = seen.get(name, 0) + 1
    return rows
