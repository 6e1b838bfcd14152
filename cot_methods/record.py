"""The generation an adapter hands back to lm-eval: the text, carrying its token accounting.

lm-eval's `generate_until` contract is a list of strings. `GenerationText` *is* that string
(lm-eval logs and caches it like any other), and carries the adapter's record as
`.cotbench`, which the task's process_results folds into the per-sample record. It pickles
with its record, so lm-eval's request cache (`--use_cache`) restores the accounting too.
"""

from __future__ import annotations


class GenerationText(str):
    cotbench: dict

    def __new__(cls, text: str, record: dict):
        obj = super().__new__(cls, text)
        obj.cotbench = record
        return obj

    def __reduce__(self):
        return (GenerationText, (str(self), self.cotbench))
