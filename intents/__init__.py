"""Understanding what partners and staff type: `understand(text, today=..., country=..., language=...)`.

Pure, fast and offline: regexes built once per language from the word lists in `lexicon/`, no
network and no models. See contract section 7 for the rules it implements.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from typing import Any

from intents import commands, dates, lexicon, masks, references, spelling

MAX_TEXT = 4096  # WhatsApp's own limit; also what keeps reading time bounded
MONTH_FIRST_COUNTRIES = frozenset({"US", "CA", "PH"})


@dataclasses.dataclass(frozen=True)
class Reading:
    intent: str
    date: str | None
    references: tuple[references.Reference, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"intent": self.intent, "date": self.date, "references": [r.as_dict() for r in self.references]}


def understand(text: str, *, today: dt.date | None = None, country: str | None = None,
               language: str | None = None) -> Reading:
    """The intent, date (YYYY-MM-DD) and references of one message."""
    text = (text or "")[:MAX_TEXT].replace("\u2019", "'")
    lex = lexicon.for_language(language)
    text, folded = spelling.mended(text, lexicon.fold(text), lex)
    found = references.find(text, folded, lex)
    masked = masks.find(folded) + references.spans(found)
    month_first = (country or "").upper() in MONTH_FIRST_COUNTRIES
    today = today or dt.date.today()
    date = dates.find(folded, today, month_first, lex, masked)
    intent = commands.classify(text, folded, lex, has_date=bool(date.date), has_reference=bool(found))
    if date.corrected and intent in commands.PRIORITY:
        intent = "provide_info"  # "el viernes no puedo, el lunes sí": a new date, not a yes or a no
    elif intent == "done" and date.date and date.date > today.isoformat():
        intent = "provide_info"  # "reaches Hamburg on 3 June", "arrive lundi": still to come
    return Reading(intent=intent, date=date.date, references=tuple(found))


@functools.lru_cache(maxsize=16)
def _problem_pattern(lex: lexicon.Lexicon) -> re.Pattern[str]:
    return re.compile(rf"(?<![^\W\d_])(?:{lexicon.alternation(lex.problem_words)})(?![^\W\d_])")


def problem_type(text: str, language: str | None = None) -> str | None:
    """The issue type a message reports ('shipment SH-99812 stuck at customs' -> shipment_delay),
    or None when it reports no problem."""
    lex = lexicon.for_language(language)
    found = _problem_pattern(lex).search(lexicon.fold(text[:MAX_TEXT]))
    return lex.problem_words[lexicon.squash(found.group(0))] if found else None


@functools.lru_cache(maxsize=16)
def _remind_pattern(lex: lexicon.Lexicon) -> re.Pattern[str]:
    return re.compile(rf"(?<![^\W\d_])(?:{lexicon.alternation(lex.remind_words)})(?![^\W\d_])")


def asks_reminder(text: str, language: str | None = None) -> bool:
    """'remind me tomorrow', 'später': the writer wants to be asked again later."""
    return _remind_pattern(lexicon.for_language(language)).search(lexicon.fold(text[:MAX_TEXT])) is not None
