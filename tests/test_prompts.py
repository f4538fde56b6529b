"""Every language says everything English says, with the same placeholders, and buttons fit."""
from __future__ import annotations

import json
import re
import string

import pytest

from conversations import say
from app.whatsapp.messages import BUTTON_TITLE_MAX

# Texts for staff in Trading Grid and for numbers we do not know stay in English.
ENGLISH_ONLY = {"unknown_number", "handoff_task_title", "handoff_task_description"}
LANGUAGES = sorted(p.stem for p in say.PROMPTS.glob("*.json"))
ENGLISH = json.loads((say.PROMPTS / "en.json").read_text(encoding="utf-8"))


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_is_translated_with_the_same_placeholders(language: str) -> None:
    own = json.loads((say.PROMPTS / f"{language}.json").read_text(encoding="utf-8"))
    for key, text in ENGLISH.items():
        if key in ENGLISH_ONLY or not isinstance(text, str):
            continue
        assert key in own, f"{language} lacks {key}"
        assert fields(own[key]) == fields(text), f"{language}:{key}"
    assert len(own["weekdays"]) == 7 and len(own["months"]) == 12


@pytest.mark.parametrize("language", LANGUAGES)
def test_buttons_fit(language: str) -> None:
    for key in ENGLISH["buttons"]:
        assert len(say.button(language, key)) <= BUTTON_TITLE_MAX, (language, key)


# Words that are English and no word of the other languages: one of them in a German, Spanish,
# French or Portuguese text is a text, or a Trading Grid code, left untranslated.
ENGLISH_MARKERS = {"confirm", "confirmed", "please", "the", "your", "thanks", "case", "cases", "packing", "list",
                   "contract", "review", "goods", "dispatched", "delivery", "customs", "cleared", "completion",
                   "submission", "approval", "profile", "order", "bill", "lading", "sheet", "invoice", "proof"}


def words_of(value: object) -> list[str]:
    texts = [value] if isinstance(value, str) else list(value.values()) if isinstance(value, dict) else list(value or [])
    found: list[str] = []
    for text in texts:
        if isinstance(text, dict):
            found += words_of(text)
        elif isinstance(text, str):
            found += re.findall(r"\w+", re.sub(r"\{[^}]*\}", " ", text).lower())
    return found


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_no_text_a_person_reads_is_left_in_english(language: str) -> None:
    own = json.loads((say.PROMPTS / f"{language}.json").read_text(encoding="utf-8"))
    left = {key: sorted(set(words_of(value)) & ENGLISH_MARKERS) for key, value in own.items() if key not in ENGLISH_ONLY}
    assert {key: words for key, words in left.items() if words} == {}
    for group, codes in ENGLISH["terms"].items():
        for code in codes:
            assert not set(words_of(say.term(language, group, code))) & ENGLISH_MARKERS, (language, group, code)


def test_dates_are_unambiguous_in_every_language() -> None:
    assert say.date("2026-12-03", "en") == "Thu 3 Dec 2026"
    assert say.date("2026-12-03", "de") == "Do 3. Dez 2026"
    assert say.date("2026-12-03", "es") == "jue 3 dic 2026"
    assert say.date("2026-12-03", "fr") == "jeu. 3 déc. 2026"
    assert say.date("2026-12-03", "pt") == "qui 3 dez 2026"
    assert say.date("2026-12-03", "xx") == "Thu 3 Dec 2026"  # a language we lack: English
