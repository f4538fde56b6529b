"""Every message of the corpus is read as a person would read it: intent, date and references."""
from __future__ import annotations

import pytest

from intents import understand
from tests.corpus_reader import Case, cases

CASES = cases()


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 300
    assert {c.language for c in CASES} >= {"en", "de", "es", "fr", "pt"}
    assert len({c.country for c in CASES}) >= 15
    assert {c.expect["intent"] for c in CASES} >= {
        "confirm", "cancel", "accept", "reject", "acknowledge", "done", "help", "stop", "start", "status",
        "my_cases", "open_cases", "provide_info", "unknown"}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.line}:{c.text[:40]}" for c in CASES])
def test_message_is_read_right(case: Case) -> None:
    reading = understand(case.text, today=case.today, country=case.country, language=case.language)
    assert reading.as_dict() == case.expect
