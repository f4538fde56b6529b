"""What a message asks for: the intents of contract section 7, from each language's word lists.

Phrases are matched on word boundaries within a clause, longest first, so "not correct" is read
before "correct"; a positive word with a negation before it in the same clause turns into its
opposite ("we cannot accept" -> reject, "not confirmed" -> cancel); a word one typo away from a
command word counts as that word ("acept", "cancle", "conform").
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re

from rapidfuzz import process
from rapidfuzz.distance import OSA

from intents.lexicon import Lexicon, alternation

TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|\?")
CLAUSE = re.compile(r"[,.;!¡¿\n]+|\s[-–]\s|\bbut\b|\baber\b|\bpero\b|\bmais\b")
EMOJI = {"👍": "confirm", "✅": "confirm", "✔": "confirm", "☑": "confirm", "👌": "confirm", "🆗": "confirm",
         "🙏": "acknowledge", "❌": "cancel", "✖": "cancel", "👎": "cancel", "🚫": "cancel"}
WHOLE_MESSAGE = ("stop", "start", "help")      # only when they are the whole message
LEADING = ("status", "my_cases", "open_cases")  # only at the start of a message
# Read in this order when a message holds several: the most specific answer wins.
PRIORITY = ("reject", "accept", "done", "acknowledge", "cancel", "confirm")
NEGATED = {"accept": "reject", "confirm": "cancel", "acknowledge": None, "done": None, "cancel": None,
           "reject": None}
NEGATION_REACH = 3  # words
SHORT = (3, 4)  # letters of a command word whose only typo we mend is two letters swapped
# "will arrive", "only received 18 of 20": an event still to come, or half of one, is not a "done".
NOT_DONE_SENSITIVE = frozenset({"done"})


@dataclasses.dataclass(frozen=True)
class _Index:
    phrases: dict[str, list[tuple[tuple[str, ...], str]]]  # first word -> (words, intent), longest first
    vocabulary: dict[str, str]                              # one-word phrases of PRIORITY intents
    whole: dict[str, str]
    leading: list[tuple[tuple[str, ...], str]]
    negations: frozenset[str]
    negation_phrases: list[tuple[str, ...]]
    not_done: frozenset[str]
    not_done_phrases: list[tuple[str, ...]]
    at_end_only: frozenset[str]
    transposed: dict[str, str]       # "yse" -> confirm: two letters swapped in a short command word
    leading_words: tuple[str, ...]   # one-word leading commands long enough to mend ("satus")
    status_anywhere: re.Pattern[str]


def _words(phrase: str) -> tuple[str, ...]:
    return tuple(TOKEN.findall(phrase))


@functools.lru_cache(maxsize=16)
def _index(lex: Lexicon) -> _Index:
    phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    vocabulary: dict[str, str] = {}
    for intent in PRIORITY:
        for phrase in lex.commands.get(intent, ()):
            words = _words(phrase)
            if words:
                phrases.setdefault(words[0], []).append((words, intent))
                if len(words) == 1 and len(words[0]) >= 4:
                    vocabulary.setdefault(words[0], intent)
    for entries in phrases.values():
        entries.sort(key=lambda e: -len(e[0]))
    whole = {" ".join(_words(p)): intent for intent in WHOLE_MESSAGE for p in lex.commands.get(intent, ())}
    leading = sorted(((_words(p), intent) for intent in LEADING for p in lex.commands.get(intent, ())),
                     key=lambda e: -len(e[0]))
    single = frozenset(n for n in lex.negations if " " not in n)
    multi = [_words(n) for n in lex.negations if " " in n]
    not_done = frozenset(w for w in lex.not_done_cues if " " not in w)
    not_done_multi = [_words(w) for w in lex.not_done_cues if " " in w]
    known = {w for entries in phrases.values() for words, _ in entries for w in words}
    transposed = {swapped: intent for entries in phrases.values() for words, intent in entries
                  if len(words) == 1 and SHORT[0] <= len(words[0]) <= SHORT[1]
                  for swapped in _transpositions(words[0]) if swapped not in known}
    leading_words = tuple(words[0] for words, _ in leading if len(words) == 1 and len(words[0]) >= 5)
    status_anywhere = re.compile(rf"(?<![^\W\d_])(?:{alternation(lex.status_phrases)})(?![^\W\d_])")
    return _Index(phrases, vocabulary, whole, leading, single, multi, not_done, not_done_multi,
                  lex.confirm_at_end_only, transposed, leading_words, status_anywhere)


def _transpositions(word: str) -> set[str]:
    return {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)} - {word}


def classify(text: str, folded: str, lex: Lexicon, has_date: bool, has_reference: bool) -> str:
    """The intent of a message that names a date or not, a reference or not."""
    index = _index(lex)
    has_info = has_date or has_reference
    words = _words(folded)
    if not words:
        emoji = {EMOJI[c] for c in text if c in EMOJI}
        return emoji.pop() if len(emoji) == 1 else "unknown"
    joined = " ".join(words)
    if joined in index.whole:
        return index.whole[joined]
    if len(words) == 1 and len(words[0]) >= 4:
        near = _near(words[0], tuple(w for w, i in index.whole.items() if i == "help"))
        if near:
            return "help"
    if words[0] not in index.whole and (near := _near(words[0], index.leading_words)):
        words = (near,) + words[1:]  # "satus CASE-1042"
    for phrase, intent in index.leading:
        if tuple(words[:len(phrase)]) != phrase:
            continue
        if intent == "status" and not (has_info or (phrase == ("status",) and len(words) > 1)):
            continue  # "where is the truck?" asks about no case
        return intent
    if has_reference and not has_date and index.status_anywhere.search(folded):
        return "status"  # "hi, any news on PO 4500012345?", "can you tell me the status of ..."
    found = {EMOJI[c] for c in text if c in EMOJI}
    for clause in CLAUSE.split(folded):
        found.update(_clause_intents(_words(clause), index))
    found.discard(None)  # type: ignore[arg-type]
    for intent in PRIORITY:
        if intent in found:
            if intent == "cancel" and has_info and "confirm" not in found:
                return "provide_info"  # "no, the 4th": a correction, not a cancel
            return intent
    return "provide_info" if has_info else "unknown"


def _clause_intents(words: tuple[str, ...], index: _Index) -> set[str | None]:
    found: set[str | None] = set()
    i = 0
    while i < len(words):
        match = _phrase_at(words, i, index)
        if match is None:
            i += 1
            continue
        length, intent = match
        if length == 1 and words[i] in index.at_end_only and i + 1 < len(words):
            i += 1  # "correct PO is 4500012399": an adjective, not an answer
            continue
        if intent in NEGATED and _preceded(words, i, index.negations, index.negation_phrases, True):
            found.add(NEGATED[intent])
        elif intent in NOT_DONE_SENSITIVE and _preceded(words, i, index.not_done, index.not_done_phrases, False):
            found.add(None)
        else:
            found.add(intent)
        i += length
    return found


def _phrase_at(words: tuple[str, ...], i: int, index: _Index) -> tuple[int, str] | None:
    for phrase, intent in index.phrases.get(words[i], ()):
        if tuple(words[i:i + len(phrase)]) == phrase:
            return len(phrase), intent
    word = words[i]
    if word in index.transposed:
        return 1, index.transposed[word]
    if len(word) >= 5 and not word.isdigit():
        near = _near(word, tuple(index.vocabulary))
        if near:
            return 1, index.vocabulary[near]
    return None


def _preceded(words: tuple[str, ...], i: int, single: frozenset[str], phrases: list[tuple[str, ...]],
              contractions: bool) -> bool:
    """Whether one of `single` or `phrases` stands in the few words before word i."""
    before = words[max(0, i - NEGATION_REACH):i]
    if any(w in single or (contractions and w.endswith("n't")) for w in before):
        return True
    window = " ".join(words[max(0, i - NEGATION_REACH - 1):i])
    return any(" ".join(p) in window for p in phrases)


@functools.lru_cache(maxsize=8192)
def _near(word: str, vocabulary: tuple[str, ...]) -> str | None:
    """The vocabulary word one typo away (two for long words): 'acept' -> 'accept'."""
    limit = 2 if len(word) >= 8 else 1
    for candidate, _, _ in process.extract(word, vocabulary, scorer=OSA.distance, score_cutoff=limit, limit=5):
        shared = len(os.path.commonprefix([word, candidate]))
        if candidate[0] == word[0] and (len(candidate) == len(word) or shared < min(len(word), len(candidate)) - 1):
            return str(candidate)
    return None  # nothing, or only other forms of the word ("delivery" is no typo of "delivered")
