"""intents beyond the corpus: the rules of contract section 7, check digits, fuzzy reference
matching, bounded input, the command line, and a language added as data alone."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from intents import lexicon, understand
from intents.references import awb_valid, container_valid, gs1_valid, match

TUESDAY = dt.date(2026, 11, 24)


def date_of(text: str, country: str | None = None, today: dt.date = TUESDAY) -> str | None:
    return understand(text, today=today, country=country).date


@pytest.mark.parametrize("text,expected", [
    ("next Friday", "2026-12-04"), ("next Monday", "2026-11-30"), ("next Tuesday", "2026-12-01"),
    ("Friday", "2026-11-27"), ("this Friday", "2026-11-27"), ("Tuesday", "2026-12-01"),
    ("this Tuesday", "2026-12-01"), ("tomorrow", "2026-11-25"), ("day after tomorrow", "2026-11-26"),
    ("in 3 days", "2026-11-27"), ("in 2 weeks", "2026-12-08"), ("in three days", "2026-11-27"), ("in a fortnight", "2026-12-08"),
])
def test_relative_dates_follow_the_contract(text: str, expected: str) -> None:
    assert date_of(text) == expected


@pytest.mark.parametrize("text,country,expected", [
    ("2026-12-03", "US", "2026-12-03"), ("2026/12/03", None, "2026-12-03"),
    ("3/12", None, "2026-12-03"), ("3/12", "DE", "2026-12-03"), ("3/12", "US", "2027-03-12"),
    ("3/12", "CA", "2027-03-12"), ("3/12", "PH", "2027-03-12"), ("3/12", "GB", "2026-12-03"),
    ("13/12", "US", "2026-12-13"), ("12/13", "DE", "2026-12-13"),   # only one reading is a date
    ("24/11", None, "2026-11-24"), ("23/11", None, "2027-11-23"),     # on or after today
    ("29/2", None, "2028-02-29"), ("30/2", None, None),
    ("3/12/27", None, "2027-12-03"), ("03.12.2026", None, "2026-12-03"),
])
def test_numeric_dates(text: str, country: str | None, expected: str | None) -> None:
    assert date_of(text, country) == expected


@pytest.mark.parametrize("text", [
    "PO 778812", "4500012345", "order 20261203", "call +49 151 2345 6789", "(415) 555-0134",
    "at 10:30", "14h30", "3pm", "12.50 EUR", "$3/12", "3.5 t", "4/12 pallets", "50%", "1:1",
    "invoice 2026-12-03", "CASE-1203",
])
def test_numbers_that_are_never_dates(text: str) -> None:
    assert date_of(text, "DE") is None


def test_check_digits() -> None:
    assert container_valid("CSQU3054383") and not container_valid("CSQU3054384")
    assert container_valid("cmau 270118 0") and not container_valid("CMAU2701181")
    assert gs1_valid("006141411234567890") and not gs1_valid("006141411234567891")
    assert awb_valid("176-12345675") and not awb_valid("176-12345676")
    assert understand("container CSQU3054384").references[0].kind == "other"  # the keyword, not the shape
    assert understand("CSQU3054384 at port").references == ()


@pytest.mark.parametrize("typed,expected", [
    ("po 77881", "PO-778812"), ("778812", "PO-778812"), ("PO778812", "PO-778812"),
    ("inv 2024 5561", "INV-2024-5561"), ("ASN 88120", "ASN-88120"), ("12345", None), ("", None),
])
def test_typed_references_map_onto_open_cases(typed: str, expected: str | None) -> None:
    assert match(typed, ["PO-778812", "INV-2024-5561", "ASN-88120", "PO-4410093"]) == expected


def test_two_equally_close_references_are_not_guessed() -> None:
    assert match("77881", ["PO-778812", "PO-778813"]) is None


@pytest.mark.parametrize("text,intent", [
    ("we cannot accept", "reject"), ("not correct", "cancel"), ("we don't accept this", "reject"),
    ("not confirmed", "cancel"), ("No, accept", "accept"), ("no problem", "confirm"),
    ("acept", "accept"), ("cancle", "cancel"), ("conform", "confirm"), ("please stop the truck", "unknown"),
])
def test_negation_and_typos_never_turn_into_the_opposite(text: str, intent: str) -> None:
    assert understand(text, today=TUESDAY).intent == intent


@pytest.mark.parametrize("text,expected", [
    ("the PO doesn't match 5/12", "2026-12-05"),        # "match" is no misspelled March
    ("ça marche pour le 5/12", "2026-12-05"),           # nor "marche"
    ("remember 5 pallets on 7/12", "2026-12-07"),       # nor "remember" December
    ("janury 5", "2027-01-05"), ("5 septmber", "2027-09-05"), ("le 5 decembr", "2026-12-05"),
    ("mid-janury", None),                               # no number: no month is guessed
])
def test_only_month_names_one_typo_away_are_mended(text: str, expected: str | None) -> None:
    assert date_of(text, "DE", today=dt.date(2026, 12, 3)) == expected


@pytest.mark.parametrize("text,expected", [
    ("the 7th is impossible", "2026-12-07"),            # nothing else offered: the date is still named
    ("5/12 not possible, 9/12 ok", "2026-12-09"),
    ("deliver 5/12 not 6/12", "2026-12-05"),            # both set aside: the first stands
    ("instead of 1/12 we do 9/12", "2026-12-09"),
])
def test_a_refused_date_gives_way_only_to_another(text: str, expected: str) -> None:
    reading = understand(text, today=dt.date(2026, 12, 1), country="DE")
    assert reading.date == expected


def test_a_date_still_to_come_is_no_done() -> None:
    today = dt.date(2026, 12, 3)
    assert understand("delivered 1/12", today=today, country="DE").intent == "done"
    assert understand("delivered 1/12", today=today, country="DE").date == "2026-12-01"  # told of the past
    assert understand("arrives 9/12", today=today, country="DE").intent == "provide_info"
    assert understand("arrived today", today=today).intent == "done"


def test_input_is_read_only_up_to_whatsapps_limit() -> None:
    long = "x " * 3000 + "tomorrow"
    assert understand(long, today=TUESDAY).date is None
    assert understand("tomorrow " + "x " * 3000, today=TUESDAY).date == "2026-11-25"
    assert understand("3/" * 5000, today=TUESDAY).intent in ("unknown", "provide_info")


def test_a_language_is_added_as_a_data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "lexicon"
    shutil.copytree(lexicon.HERE, folder)
    italian = json.loads((folder / "es.json").read_text(encoding="utf-8"))
    italian["months"] = {"dicembre": 12, "gennaio": 1}
    italian["weekdays"] = {"venerdì": 4, "venerdi": 4}
    italian["relative_days"] = {"domani": 1, "oggi": 0}
    italian["modifiers"] = {"prossimo": "next"}
    italian["post_modifiers"] = {"prossimo": "next"}
    (folder / "it.json").write_text(json.dumps(italian), encoding="utf-8")
    monkeypatch.setattr(lexicon, "HERE", folder)
    lexicon.load.cache_clear()
    lexicon._raw.cache_clear()
    lexicon.languages.cache_clear()
    try:
        assert understand("consegna il 3 dicembre", today=TUESDAY, language="it").date == "2026-12-03"
        assert understand("domani", today=TUESDAY, language="it").date == "2026-11-25"
        assert understand("venerdì prossimo", today=TUESDAY, language="it").date == "2026-12-04"
    finally:
        lexicon.load.cache_clear()
        lexicon._raw.cache_clear()
        lexicon.languages.cache_clear()


def test_parse_jsonl_answers_each_line_in_order() -> None:
    lines = [{"text": "can do 3/12", "today": "2026-11-24", "country": "US"}, "not json",
             {"text": "PO#778812 next tue", "today": "2026-11-24"}, {"text": 7}, {"text": "ok", "today": "24.11."}]
    stdin = "\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n\n"
    done = subprocess.run([sys.executable, "-m", "app.cli", "parse", "--jsonl"], input=stdin,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert answers == [
        {"intent": "provide_info", "date": "2027-03-12", "references": []},
        {"error": "line is not JSON"},
        {"intent": "provide_info", "date": "2026-12-01", "references": [{"kind": "po", "value": "778812"}]},
        {"error": "expected an object with a text string"},
        {"error": "today must be YYYY-MM-DD"},
    ]


@pytest.mark.parametrize("option,value,said", [("--country", "XX", "country must be an ISO 3166 code"),
                                               ("--language", "zz", "language must be one of de, en, es, fr, pt")])
def test_parse_refuses_a_country_or_language_it_would_silently_ignore(option: str, value: str, said: str) -> None:
    done = subprocess.run([sys.executable, "-m", "app.cli", "parse", option, value, "can do 3/12"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr
    lines = json.dumps({"text": "can do 3/12", option.removeprefix("--"): value}) + "\n"
    answered = subprocess.run([sys.executable, "-m", "app.cli", "parse", "--jsonl"], input=lines,
                              capture_output=True, text=True, timeout=60)
    assert said in json.loads(answered.stdout)["error"]
