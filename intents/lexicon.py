"""Word lists per language (the JSON files beside this module), merged and compiled on first use.

A language is added by dropping `xx.json` here: nothing in the code names a language. For a
contact with a language, English and that language are read; without one, every language, less
the short words that mean something else elsewhere (a German weekday abbreviation is an English
word). Accented words also match typed without their accents.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "lexicon"
BASE_LANGUAGE = "en"


@functools.lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """The languages there are word lists for (read once: every message asks)."""
    return tuple(sorted(p.stem for p in HERE.glob("*.json")))


def for_language(language: str | None) -> Lexicon:
    """The lexicon for a contact's language where there are word lists for it, else all of them."""
    code = language.lower() if language else None
    return load(code if code in languages() else None)


@functools.lru_cache(maxsize=None)
def _raw(language: str) -> dict[str, Any]:
    return json.loads((HERE / f"{language}.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    lower = char.lower()[:1] or char
    base = "".join(c for c in unicodedata.normalize("NFKD", lower) if not unicodedata.combining(c))
    return base if len(base) == 1 else lower


def fold(text: str) -> str:
    """Lower case without accents, one character for one ('Décembre' -> 'decembre'), so that
    positions in the folded text are positions in the original."""
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text))


def squash(phrase: str) -> str:
    """A matched phrase as the word lists spell it: any run of white space as one space."""
    return " ".join(phrase.split())


def alternation(words: Any) -> str:
    """A regex alternation of `words`, longest first, any run of spaces matching one."""
    unique = sorted(set(words), key=lambda w: (-len(w), w))
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in unique) or "(?!)"


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity: one per language, cached
class Lexicon:
    months: dict[str, int]
    weekdays: dict[str, int]
    weak: frozenset[str]
    relative_days: dict[str, int | None]
    modifiers: dict[str, str]
    week_words: dict[str, str]
    month_words: dict[str, str]
    numbers: dict[str, int]
    ordinals: dict[str, int]
    units: dict[str, str]
    in_words: frozenset[str]
    ago_words: frozenset[str]
    prefix_ago_words: frozenset[str]
    from_words: dict[str, int]
    day_articles: frozenset[str]
    of_words: frozenset[str]
    old_cues: frozenset[str]
    commands: dict[str, frozenset[str]]
    negations: frozenset[str]
    reference_words: dict[str, str]
    holidays: dict[str, str]
    past_cues: frozenset[str]
    centuries: dict[str, int]
    not_done_cues: frozenset[str]
    post_modifiers: dict[str, str]
    day_cues: frozenset[str]
    problem_words: dict[str, str]
    remind_words: frozenset[str]
    offset_words: dict[str, int]
    confirm_at_end_only: frozenset[str]
    refusal_cues: frozenset[str]      # after a date: "the 7th is impossible", "el viernes no puedo"
    old_adjectives: frozenset[str]    # before a date or its label: "planned ETA 5/12", "old date"
    date_labels: frozenset[str]
    span_parts: dict[str, str]        # "end of", "Mitte", "mediados": end / start / mid
    span_links: frozenset[str]
    span_periods: dict[str, str]      # month / week / year
    span_next: frozenset[str]
    span_compounds: dict[str, str]    # "Monatsende": "end month"
    span_blockers: frozenset[str]     # "fin de semana" is the weekend, not the end of the week
    status_phrases: frozenset[str]    # "any news on PO ...", wherever it stands

    @functools.cached_property
    def day_words(self) -> dict[str, int]:
        """Days of the month in words: 'third', 'twenty-first', 'twenty one', 'thirty'."""
        words = {w: n for w, n in self.ordinals.items() if n <= 31}
        words.update({w: n for w, n in self.numbers.items() if 1 <= n <= 31 and len(w) > 2})
        return words


def _with_folded(mapping: dict[str, Any]) -> dict[str, Any]:
    out = dict(mapping)
    for key, value in mapping.items():
        out.setdefault(fold(key), value)
    return out


def _english_compounds(data: dict[str, Any]) -> None:
    """'twenty-first', 'twenty one', 'ninety-nine' from the tens and units (ordinals up to 31)."""
    units = {w: n for w, n in data["numbers"].items()
             if 1 <= n <= 9 and w.isalpha() and len(w) > 2 and w not in ("few", "couple", "several")}
    units_ord = {w: n for w, n in data["ordinals"].items() if 1 <= n <= 9}
    for ten_word, ten in data.get("tens", {}).items():
        for sep in ("-", " "):
            for word, n in units.items():
                data["numbers"][f"{ten_word}{sep}{word}"] = ten + n
            for word, n in units_ord.items():
                if ten + n <= 31:
                    data["ordinals"][f"{ten_word}{sep}{word}"] = ten + n


def _folded(words: Any) -> frozenset[str]:
    """Words matched against folded text: only their folded forms can ever match."""
    return frozenset(fold(w) for w in words)


def _only_folded(mapping: dict[str, Any]) -> dict[str, Any]:
    return {fold(key): value for key, value in mapping.items()}


@functools.lru_cache(maxsize=16)
def load(language: str | None) -> Lexicon:
    """The lexicon for a contact's language (None: all languages)."""
    names = languages()
    if language is None:
        chosen = names
    else:
        chosen = [BASE_LANGUAGE] + ([language] if language in names and language != BASE_LANGUAGE else [])
    merged: dict[str, Any] = {}
    weak: set[str] = set()
    for name in chosen:
        data = json.loads(json.dumps(_raw(name)))  # a copy: compounds are added below
        if name == BASE_LANGUAGE:
            _english_compounds(data)
        weak.update(data.get("weak_words", []))
        for key, value in data.items():
            if isinstance(value, dict) and key != "commands":
                merged.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                merged.setdefault(key, set()).update(value)
        for intent, phrases in data.get("commands", {}).items():
            merged.setdefault("commands", {}).setdefault(intent, set()).update(phrases)
    if language is None:
        # Where languages disagree on a short word, no language gets it (e.g. "mar", "de").
        months, weekdays = merged["months"], merged["weekdays"]
        for word in set(months) & set(weekdays):
            weekdays.pop(word)

    def week_map(prefix: str) -> dict[str, str]:
        return {p: kind for kind in ("next", "this", "last") for p in merged.get(f"{kind}_{prefix}", ())}

    return Lexicon(
        months=_with_folded(merged["months"]), weekdays=_with_folded(merged["weekdays"]),
        weak=frozenset(weak), relative_days=_with_folded(merged["relative_days"]),
        modifiers=_with_folded(merged["modifiers"]), week_words=_with_folded(week_map("week")),
        month_words=_with_folded(week_map("month")), numbers=_with_folded(merged["numbers"]),
        ordinals=_with_folded(merged["ordinals"]), units=_with_folded(merged["units"]),
        in_words=frozenset(merged["in_words"]), ago_words=frozenset(merged.get("ago_words", ())),
        prefix_ago_words=frozenset(merged.get("prefix_ago_words", ())),
        from_words=_with_folded(merged.get("from_words", {})), day_articles=frozenset(merged["day_articles"]),
        of_words=frozenset(merged.get("of_words", ())), old_cues=_folded(merged["old_cues"]),
        commands={k: frozenset(v) | frozenset(fold(p) for p in v) for k, v in merged["commands"].items()},
        negations=frozenset(merged["negations"]) | frozenset(fold(n) for n in merged["negations"]),
        reference_words=_with_folded(merged["reference_words"]),
        holidays=_with_folded(merged.get("holidays", {})),
        past_cues=frozenset(merged.get("past_cues", ())) | frozenset(fold(w) for w in merged.get("past_cues", ())),
        centuries=merged.get("centuries", {}),
        not_done_cues=frozenset(merged.get("not_done_cues", ())) | frozenset(fold(w) for w in merged.get("not_done_cues", ())),
        post_modifiers=_with_folded(merged.get("post_modifiers", {})),
        remind_words=frozenset(fold(w) for w in merged.get("remind_words", ())),
        problem_words=_with_folded(merged.get("problem_words", {})),
        day_cues=frozenset(fold(w) for w in merged.get("day_cues", ())),
        offset_words=_with_folded(merged.get("offset_words", {})),
        confirm_at_end_only=frozenset(fold(w) for w in merged.get("confirm_at_end_only", ())),
        refusal_cues=_folded(merged.get("refusal_cues", ())), date_labels=_folded(merged.get("date_labels", ())),
        old_adjectives=_folded(merged.get("old_adjectives", ())),
        span_parts=_only_folded(merged.get("span_parts", {})), span_links=_folded(merged.get("span_links", ())),
        span_periods=_only_folded(merged.get("span_periods", {})), span_next=_folded(merged.get("span_next", ())),
        span_compounds=_only_folded(merged.get("span_compounds", {})),
        span_blockers=_folded(merged.get("span_blockers", ())),
        status_phrases=_folded(merged.get("status_phrases", ())),
    )
