"""Token-level views of words: which vocabulary entries *are* a given word.

Methods act on tokens, users think in words. A trigger such as "Wait" appears as several
tokens ("Wait", " Wait", "\\n\\nWait", …) depending on what precedes it; we find every
vocabulary entry whose text, stripped of whitespace, is the word. Whole-word matching is
what keeps "many", "know" and "button" out of NoWait's "any", "now" and "but".
"""

from __future__ import annotations

import re
from functools import lru_cache

from cotbench.errors import CotbenchError


@lru_cache(maxsize=8)
def _vocabulary_texts(tokenizer) -> tuple[str, ...]:
    return tuple(tokenizer.decode([i]) for i in range(len(tokenizer)))


def token_ids_for_words(tokenizer, words, case_sensitive: bool = True) -> frozenset[int]:
    """Ids of vocabulary entries whose stripped text equals one of `words`."""
    wanted = {w if case_sensitive else w.lower() for w in words}
    ids = set()
    for token_id, text in enumerate(_vocabulary_texts(tokenizer)):
        core = text.strip()
        if not case_sensitive:
            core = core.lower()
        if core in wanted:
            ids.add(token_id)
    return frozenset(ids)


def trigger_token_ids(tokenizer, words, method: str) -> frozenset[int]:
    """Trigger ids for `words`; a word with no single-token form is an error, not a silent no-op."""
    ids = token_ids_for_words(tokenizer, words)
    for word in words:
        if not token_ids_for_words(tokenizer, [word]):
            raise CotbenchError(f"{method}: trigger {word!r} is not a single token in this tokenizer (pick another trigger word)")
    return ids


_WORD_CORE = re.compile(r"^[\W_]*(.*?)[\W_]*$")


def reflection_token_ids(tokenizer, keywords) -> frozenset[int]:
    """NoWait's banned set: tokens whose text, without surrounding whitespace/punctuation and
    case, is exactly a keyword ("Wait", " wait", "Wait,", "\\n\\nHmm")."""
    wanted = {k.lower() for k in keywords}
    ids = set()
    for token_id, text in enumerate(_vocabulary_texts(tokenizer)):
        match = _WORD_CORE.match(text.strip())
        core = match.group(1).lower() if match else ""
        if core and core in wanted:
            ids.add(token_id)
    return frozenset(ids)
