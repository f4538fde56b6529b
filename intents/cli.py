"""`tgwa parse`: how the bot reads free text, one message or a JSON Lines stream."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import phonenumbers

from intents import lexicon, understand


def problem(country: Any, language: Any) -> str | None:
    """What is wrong with a country or language given to `parse`, if anything: an unknown one
    would be read as none at all, silently."""
    if country is not None and (not isinstance(country, str) or country.upper() not in phonenumbers.SUPPORTED_REGIONS):
        return f"country must be an ISO 3166 code such as US or DE, not {country!r}"
    if language is not None and (not isinstance(language, str) or language.lower() not in lexicon.languages()):
        return f"language must be one of {', '.join(lexicon.languages())}, not {language!r}"
    return None


def read_line(line: str, default_today: dt.date) -> dict[str, Any]:
    """One answer for one input line; a bad line gets an error answer in its place, so the
    output stays in step with the input."""
    try:
        request = json.loads(line)
    except ValueError:
        return {"error": "line is not JSON"}
    if not isinstance(request, dict) or not isinstance(request.get("text"), str):
        return {"error": "expected an object with a text string"}
    today = default_today
    if request.get("today") is not None:
        try:
            today = dt.date.fromisoformat(str(request["today"]))
        except ValueError:
            return {"error": "today must be YYYY-MM-DD"}
    country, language = request.get("country"), request.get("language")
    wrong = problem(country, language)
    if wrong is not None:
        return {"error": wrong}
    return understand(request["text"], today=today, country=country, language=language).as_dict()


def stream(lines: Iterable[str], out: TextIO, today: dt.date | None = None) -> int:
    """Answers each non-blank line of `lines` on `out`; returns how many."""
    default_today = today or dt.date.today()
    count = 0
    for line in lines:
        if not line.strip():
            continue
        out.write(json.dumps(read_line(line, default_today), ensure_ascii=False) + "\n")
        count += 1
    return count


def describe(texts: Iterable[str], country: str | None, language: str | None,
             today: dt.date | None) -> Iterator[str]:
    for text in texts:
        reading = understand(text, today=today, country=country, language=language)
        refs = ", ".join(f"{r.kind} {r.value}" for r in reading.references) or "-"
        yield f"{text!r}: intent {reading.intent}, date {reading.date or '-'}, references {refs}"
