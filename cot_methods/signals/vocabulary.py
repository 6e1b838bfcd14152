"""Token-level views of words: which vocabulary entries *are* a given word.

Methods act on tokens, users think in words. A trigger such as "Wait" appears as several
tokens ("Wait", " Wait", "\\n\\nWait", Qwen3's single ".Wait", …) depending on what precedes
it; we find every vocabulary entry whose text, stripped of surrounding whitespace and
punctuation, is the word (case-sensitive for triggers). Whole-word matching is what keeps
"many", "know" and "button" out of NoWait's "any", "now" and "but".

Some words have no single-token form in some tokenizers (Qwen3 and DeepSeek-V3 split
"double-check" into "double" + "-check", "hmm" into "h" + "mm"). NoWait cannot ban "double"
everywhere, so such a keyword is banned *in context*: once the row's last tokens are the
keyword's leading pieces, its final piece is banned (`keyword_continuation_bans`), and the
keyword can never be completed in that spelling. A word split differently by context (DeepSeek's
".Wait" is ".W" + "ait") is still missed by token-level triggers; the tests list which.
"""

from __future__ import annotations

import re
from functools import lru_cache

from cotbench.errors import CotbenchError


@lru_cache(maxsize=8)
def _vocabulary_texts(tokenizer) -> tuple[str, ...]:
    return tuple(tokenizer.decode([i]) for i in range(len(tokenizer)))


_WORD_CORE = re.compile(r"^[\W_]*(.*?)[\W_]*$")


def word_core(text: str) -> str:
    """A token's text without surrounding whitespace and punctuation: ".Wait" → "Wait"."""
    match = _WORD_CORE.match(text.strip())
    return match.group(1) if match else ""


def token_ids_for_words(tokenizer, words, case_sensitive: bool = True) -> frozenset[int]:
    """Ids of vocabulary entries whose core (`word_core`) equals one of `words`."""
    wanted = {w if case_sensitive else w.lower() for w in words}
    ids = set()
    for token_id, text in enumerate(_vocabulary_texts(tokenizer)):
        core = word_core(text)
        if not case_sensitive:
            core = core.lower()
        if core and core in wanted:
            ids.add(token_id)
    return frozenset(ids)


def trigger_token_ids(tokenizer, words, method: str) -> frozenset[int]:
    """Trigger ids for `words`; a word with no single-token form is an error, not a silent no-op."""
    ids = token_ids_for_words(tokenizer, words)
    for word in words:
        if not token_ids_for_words(tokenizer, [word]):
            raise CotbenchError(f"{method}: trigger {word!r} is not a single token in this tokenizer (pick another trigger word)")
    return ids


def reflection_token_ids(tokenizer, keywords) -> frozenset[int]:
    """NoWait's banned set: tokens whose text, without surrounding whitespace/punctuation and
    case, is exactly a keyword ("Wait", " wait", "Wait,", "\\n\\nHmm")."""
    return token_ids_for_words(tokenizer, [k.lower() for k in keywords], case_sensitive=False)


def keyword_spellings(keyword: str) -> tuple[str, ...]:
    """The spellings a keyword takes in running text: as is, capitalised, after a space."""
    forms = dict.fromkeys([keyword, keyword[:1].upper() + keyword[1:]])
    return tuple(dict.fromkeys([*forms, *(" " + f for f in forms)]))


def keyword_continuation_bans(tokenizer, keywords, banned: frozenset[int] = frozenset()) -> dict[tuple[int, ...], frozenset[int]]:
    """Multi-token keyword spellings: leading pieces → the final pieces to ban after them.

    Spellings already impossible (a single banned token, or a leading piece that is banned)
    are left out."""
    bans: dict[tuple[int, ...], set[int]] = {}
    for keyword in keywords:
        for spelling in keyword_spellings(keyword):
            pieces = tokenizer.encode(spelling, add_special_tokens=False)
            if len(pieces) < 2 or any(p in banned for p in pieces[:-1]):
                continue
            bans.setdefault(tuple(pieces[:-1]), set()).add(pieces[-1])
    return {prefix: frozenset(ids) for prefix, ids in bans.items()}
