"""The per-generation record, one type for every writer and reader, and the string that
carries it through lm-eval.

Writers: the adapters (`base.py`, `stepentropy.py`: token accounting and the method's trace)
and the tasks' `process_results` (`harness_tasks/utils.py`: the grader's verdict). Readers:
the journal (`journal.py`) and everything downstream of lm-eval's sample files
(`reports/runs.py`). The JSON form is what lm-eval logs under `cotbench.generations[]`.

lm-eval's `generate_until` contract is a list of strings. `GenerationText` *is* that string
(lm-eval logs and caches it like any other), and carries the adapter's record as
`.cotbench`, which process_results completes with the verdict. It pickles with its record,
so lm-eval's request cache (`--use_cache`) restores the accounting too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Fields filled by the grader, absent from an adapter's record until the task grades it.
VERDICT_FIELDS = ("extracted_answer", "correct", "reason", "thinking_closed", "extracted_by", "thinking_steps", "first_correct_step",
                  "first_correct_tokens", "overthinking_share", "overthinking_unit")


@dataclass
class GenerationRecord:
    # -- the grader's verdict (harness_tasks/utils.py) --------------------------------------
    extracted_answer: str | None = None
    correct: bool | None = None
    reason: str | None = None  # correct | no_answer | parse_failure | mismatch | timeout | grader_error | unsafe_input | request_failed
    thinking_closed: bool | None = None  # the response contains the end-of-thinking marker
    extracted_by: str | None = None  # box | fallback (harness_tasks/grading.py) | None: nothing extracted
    # -- where the thinking first stated the right answer (math tasks: harness_tasks/overthinking.py)
    thinking_steps: int | None = None  # "\n\n"-separated steps of the thinking
    first_correct_step: int | None = None  # 1-based; None: no step stated the right answer
    first_correct_tokens: int | None = None  # thinking tokens up to the end of that step
    overthinking_share: float | None = None  # share of the thinking after that step
    overthinking_unit: str | None = None  # tokens (the text re-encoded) | characters (no tokenizer loaded)
    # -- token accounting (the adapter; one count per generated token, on every backend) ----
    thinking_tokens: int | None = None
    answer_tokens: int | None = None  # forced close text and answer prefix included
    probe_tokens: int | None = None  # decoded or fed for probes, then discarded
    total_tokens: int | None = None  # thinking + answer
    # Who counted: "adapter" (the ids a cotbench adapter generated), "tokenizer <name>" (a plain
    # lm-eval model's text re-encoded: harness_tasks/token_counts.py), None (not counted).
    token_source: str | None = None
    truncated: bool | None = None  # stopped by the length limit
    finish_reason: str | None = None  # eos | stop | length | final | error (a request failed for good)
    error: str | None = None  # finish_reason "error": the backend's reason
    think_end: str | None = None
    closed_by: str | None = None  # model | method | None (never closed)
    cut_position: int | None = None  # thinking tokens when a method closed thinking
    cut_reason: str | None = None
    probes: list[dict] = field(default_factory=list)  # one per probe: position, trigger, entropies, decision …
    # A method's close, tokenised in context (row.py): the ids fed, the generated ids rolled back, the text.
    forced: dict | None = None
    batch_wall_s: float | None = None
    batch_rows: int | None = None
    adapter: dict = field(default_factory=dict)  # method, its arguments, engine arguments, model
    # -- method-specific fields (step entropy's steps, ENTRA's BIE, [SKIP] counts), flat in JSON
    method_fields: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The JSON object lm-eval logs. The verdict fields appear once the task has graded;
        the accounting fields only when someone counted (an adapter, or the task for a plain
        lm-eval model whose tokenizer it could load)."""
        graded, accounted = self.correct is not None, bool(self.adapter) or self.token_source is not None
        out = {}
        for f in dataclasses.fields(self):
            verdict = f.name in VERDICT_FIELDS
            if f.name == "method_fields" or (verdict and not graded) or (not verdict and not accounted):
                continue
            out[f.name] = getattr(self, f.name)
        out.update(self.method_fields)
        return out

    @classmethod
    def from_json(cls, raw: dict) -> GenerationRecord:
        """The record of a logged JSON object; keys that are not fields are method fields."""
        names = {f.name for f in dataclasses.fields(cls)} - {"method_fields"}
        known = {k: v for k, v in raw.items() if k in names}
        known["probes"] = list(known.get("probes") or [])
        known["adapter"] = dict(known.get("adapter") or {})
        return cls(**known, method_fields={k: v for k, v in raw.items() if k not in names})

    def graded(self, extracted_answer: str | None, correct: bool, reason: str, thinking_closed: bool,
               extracted_by: str | None = None) -> GenerationRecord:
        """A copy with the grader's verdict."""
        return dataclasses.replace(self, extracted_answer=extracted_answer, correct=correct, reason=reason,
                                   thinking_closed=thinking_closed, extracted_by=extracted_by,
                                   method_fields=dict(self.method_fields))


class GenerationText(str):
    cotbench: GenerationRecord

    def __new__(cls, text: str, record: GenerationRecord):
        obj = super().__new__(cls, text)
        obj.cotbench = record
        return obj

    def __reduce__(self):
        return (GenerationText, (str(self), self.cotbench))
