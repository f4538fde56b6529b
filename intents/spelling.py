"""Month names typed wrong ("janury", "novmber", "dezembo"), put right before anything is read.

Only long month names are mended (six letters or more), only in a message with a number in it
(a month without a day is no date), only from a word of the same first letter that no word list
knows, and only one typo away (two for words of eight letters or more): short words such as
"match" or "marche" are too close to real words to guess at.
"""
from __future__ import annotations

import functools
import re

from rapidfuzz import process
from rapidfuzz.distance import OSA

from intents.lexicon import Lexicon

MIN_LENGTH = 6
LONG = 8
WORD = re.compile(r"[^\W\d_]{%d,}" % MIN_LENGTH)
DIGIT = re.compile(r"\d")


@functools.lru_cache(maxsize=16)
def _months(lex: Lexicon) -> tuple[tuple[str, ...], frozenset[str]]:
    """The long month names, and every word the lexicon knows (which is never a typo)."""
    long_names = tuple(sorted(m for m in lex.months if len(m) >= MIN_LENGTH and m.isalpha()))
    known = set(lex.months) | set(lex.weekdays) | set(lex.numbers) | set(lex.ordinals) | set(lex.units)
    for phrases in lex.commands.values():
        known.update(w for p in phrases for w in p.split())
    return long_names, frozenset(known)


@functools.lru_cache(maxsize=8192)
def _month_for(word: str, lex: Lexicon) -> str | None:
    names, known = _months(lex)
    if word in known:
        return None
    limit = 2 if len(word) >= LONG else 1
    for name, _, _ in process.extract(word, names, scorer=OSA.distance, score_cutoff=limit, limit=3):
        if name[0] == word[0]:
            return str(name)
    return None


def mended(text: str, folded: str, lex: Lexicon) -> tuple[str, str]:
    """`text` and its folded form with misspelled month names replaced by the month's name."""
    if not DIGIT.search(folded):
        return text, folded
    fixes = [(m.start(), m.end(), name) for m in WORD.finditer(folded) if (name := _month_for(m.group(0), lex))]
    for start, end, name in reversed(fixes):
        text, folded = text[:start] + name + text[end:], folded[:start] + name + folded[end:]
    return text, folded
