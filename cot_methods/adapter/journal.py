"""A per-sample journal so a killed run resumes without losing or recomputing a sample.

Each finished generation is appended (and flushed to disk) as one JSON line keyed by a hash
of the adapter, *all* its arguments, the prompt, the generation kwargs and the request's task,
doc_id and repeat (`request_rows.py`; repeats of one prompt are distinct samples). Those also
fix the row's seed, so a resumed run generates the rows it lacks exactly as an uninterrupted
run would, whatever else it asks for. lm-eval's own request cache keys
on prompt and generation kwargs only, so an EntroCut run could be served a vanilla answer
from it; this key cannot. A torn last line (the process died mid-write) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ...record import GenerationRecord, GenerationText


def request_key(adapter: dict, context: str, gen_kwargs: dict, request: list) -> str:
    """request: [task, doc_id, repeat] (`RequestRow`)."""
    payload = json.dumps([adapter, context, gen_kwargs, request], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Journal:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.entries: dict[str, GenerationText] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a kill
                self.entries[entry["key"]] = GenerationText(entry["text"], GenerationRecord.from_json(entry["record"]))

    def get(self, key: str) -> GenerationText | None:
        return self.entries.get(key)

    def add(self, key: str, text: GenerationText) -> None:
        line = json.dumps({"key": key, "text": str(text), "record": text.cotbench.to_json()}, ensure_ascii=False, default=str)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.entries[key] = text
