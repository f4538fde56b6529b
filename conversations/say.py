"""The words a person reads, in their language (the JSON files in prompts/, English where a
language lacks a text), and dates written so nobody can misread them: "Thu 3 Dec 2026"."""
from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any

PROMPTS = Path(__file__).parent / "prompts"
DEFAULT = "en"


@functools.lru_cache(maxsize=None)
def _texts(language: str) -> dict[str, Any]:
    english = json.loads((PROMPTS / f"{DEFAULT}.json").read_text(encoding="utf-8"))
    path = PROMPTS / f"{language}.json"
    if language == DEFAULT or not path.is_file():
        return english
    own = json.loads(path.read_text(encoding="utf-8"))
    merged = {**english, **own}
    for key in ("buttons", "issue_types"):
        merged[key] = {**english[key], **own.get(key, {})}
    merged["terms"] = {group: {**words, **own.get("terms", {}).get(group, {})} for group, words in english["terms"].items()}
    return merged


def text(language: str, key: str, **params: Any) -> str:
    return str(_texts(language)[key]).format(**params)


def button(language: str, key: str) -> str:
    return str(_texts(language)["buttons"][key])


def buttons_named(language: str, actions: list[str]) -> str:
    """Buttons by their titles, as a person lists them: "Confirm, Change or Cancel" ("" for none)."""
    known = _texts(language)["buttons"]
    titles = [str(known[a]) for a in actions if a in known]
    if len(titles) < 2:
        return "".join(titles)
    return f"{', '.join(titles[:-1])} {_texts(language)['or']} {titles[-1]}"


def issue(language: str, issue_type: str) -> str:
    return str(_texts(language)["issue_types"].get(issue_type, issue_type.replace("_", " ")))


def term(language: str, group: str, value: str) -> str:
    """A Trading Grid code in words ("goods_dispatched" -> "Ware versandt"): milestones,
    onboarding_actions, document_types; a code the prompts do not know, with its underscores as spaces."""
    return str(_texts(language)["terms"].get(group, {}).get(value) or value.replace("_", " "))


def date(value: str | dt.date | None, language: str) -> str:
    """'2026-12-03' -> 'Thu 3 Dec 2026' (in the reader's language)."""
    if value is None:
        return text(language, "unknown_value")
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    texts = _texts(language)
    return str(texts["date"]).format(weekday=texts["weekdays"][day.weekday()], day=day.day,
                                     month=texts["months"][day.month - 1], year=day.year)


def flow_label(language: str, flow: str) -> str:
    return str(_texts(language)["flow_labels"].get(flow, flow))
