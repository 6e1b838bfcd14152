"""Token ids for prompts that continue a text the backend has already seen.

The segment loop speaks text, and re-tokenising "... 12 + 7 = 19.\\n\\n" from scratch can give
other ids than the model sampled ("\\n", "\\n" vs "\\n\\n"), so the next segment, a probe or
the forced close text would see a different context than the HF engine's token-level
append. A backend that accepts token ids (vLLM) remembers the ids of every text it produced
and encodes only the new suffix, as the HF engine does.
"""

from __future__ import annotations


class ContinuationIds:
    def __init__(self, tokenizer, capacity: int = 4096):
        self.tokenizer, self.capacity = tokenizer, capacity
        self.known: dict[str, list[int]] = {}  # insertion-ordered: the oldest go first

    def encode(self, text: str) -> list[int]:
        """Ids of `text`: the ids of its longest known prefix, then the rest encoded alone."""
        base = max((known for known in self.known if text.startswith(known)), key=len, default="")
        rest = text[len(base) :]
        return list(self.known.get(base, [])) + (self.tokenizer.encode(rest, add_special_tokens=False) if rest else [])

    def remember(self, text: str, ids: list[int]) -> None:
        """Record a produced text and its ids (a bounded memory: the oldest are forgotten)."""
        self.known.pop(text, None)
        self.known[text] = list(ids)
        while len(self.known) > self.capacity:
            del self.known[next(iter(self.known))]

    def remember_segment(self, prompt: str, prompt_ids: list[int], generated: list[int], text: str, stop: str | None) -> None:
        """Record a generated segment: the whole text (with a matched stop string) and, when a
        stop string matched, the text before it — the context of a probe or a cut made in
        place of a trigger word."""
        self.remember(prompt + text + (stop or ""), prompt_ids + list(generated))
        if not stop:
            return
        for keep in range(len(generated) - 1, max(-1, len(generated) - 9), -1):  # the stop's few tokens
            if self.tokenizer.decode(generated[:keep]) == text:
                self.remember(prompt + text, prompt_ids + list(generated[:keep]))
                return
