"""Questions about cases: "status CASE-1042", "status PO-778812", "my cases", "open cases acme".
Staff see every case; a partner contact only its own partner's; the answer never tells anyone
whether a case they may not see exists."""
from __future__ import annotations

import re
from typing import Any

from rapidfuzz import fuzz, process, utils

from app.directory import Contact, Staff
from conversations.turn import Turn
from intents import references

LIST_ROWS = 10
PARTNER_MATCH_CUTOFF = 70


def visible(turn: Turn, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(turn.person, Staff):
        return cases
    return [c for c in cases if c.get("partner_id") == turn.person.partner_id]


def scope(turn: Turn) -> dict[str, str]:
    return {} if isinstance(turn.person, Staff) else {"partner_id": turn.person.partner_id}


def status(turn: Turn) -> None:
    refs = turn.reading.references
    written = turn.message.text or ""
    query = " ".join(written[r.start:r.end] for r in refs) or re.sub(r"^\S+\s*", "", turn.text)  # as they wrote it
    found: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] | None = None  # the cases the asker may see, fetched once if needed

    def by_reference(typed: str) -> list[dict[str, Any]]:
        nonlocal candidates
        if candidates is None:
            candidates = visible(turn, turn.rt.tradinggrid.list_cases(**scope(turn)))
        matched = references.match(typed, [c["reference"] for c in candidates if c.get("reference")])
        return [c for c in candidates if c.get("reference") == matched]

    for ref in refs:
        if ref.kind == "case":
            case = turn.rt.tradinggrid.get_case(f"CASE-{ref.value}" if ref.value.isdigit() else ref.value)
            found += visible(turn, [case] if case else [])
        else:
            found += by_reference(ref.value)
    if not refs and query:
        found += by_reference(query)
    answer(turn, found, none=turn.say("status_none", query=query or "?"))


def my_cases(turn: Turn) -> None:
    if isinstance(turn.person, Staff):
        cases = turn.rt.tradinggrid.list_cases(assignee_id=turn.person.id, status="open")
    else:
        cases = turn.rt.tradinggrid.list_cases(partner_id=turn.person.partner_id, status="open")
    answer(turn, cases, none=turn.say("cases_none"), listing=True)


def open_cases(turn: Turn) -> None:
    asked = re.sub(r"^\s*\S+\s+\S+\s*(?:for\s+|von\s+|de\s+|of\s+)?", "", turn.text).strip()
    partners = turn.rt.directory.partners
    if isinstance(turn.person, Contact):
        partner_id = turn.person.partner_id  # a partner contact sees its own partner, whatever it asks
    elif asked:
        names = {pid: f"{p.name} {pid}" for pid, p in partners.items()}
        best = process.extractOne(asked, names, scorer=fuzz.WRatio, processor=utils.default_process,
                                  score_cutoff=PARTNER_MATCH_CUTOFF)  # "acme" is Acme: case and punctuation aside
        if best is None:
            turn.reply(turn.say("no_partner", query=asked))
            return
        partner_id = str(best[2])
    else:
        answer(turn, turn.rt.tradinggrid.list_cases(status="open"), none=turn.say("cases_none"), listing=True)
        return
    answer(turn, turn.rt.tradinggrid.list_cases(partner_id=partner_id, status="open"),
           none=turn.say("cases_none"), listing=True)


def show(turn: Turn, case_id: str) -> None:
    """A tapped row of a case list."""
    case = turn.rt.tradinggrid.get_case(case_id)
    answer(turn, visible(turn, [case] if case else []), none=turn.say("status_none", query=case_id))


def answer(turn: Turn, cases: list[dict[str, Any]], none: str, listing: bool = False) -> None:
    if not cases:
        turn.reply(none)
    elif len(cases) == 1:
        turn.reply(describe(turn, cases[0]))
    else:
        rows = [(f"q|case|{c['id']}", f"{c['id']} {c.get('reference') or ''}".strip(),
                 f"{turn.say_issue(c.get('issue_type') or 'other')}, {c.get('status')}, "
                 f"{turn.date(c['expected_date']) if c.get('expected_date') else ''}".rstrip(", "))
                for c in cases[:LIST_ROWS]]
        body = (turn.say("cases_list", count=len(cases)) if listing else turn.say("status_many", count=len(cases)))
        turn.choose(body, turn.say("cases_button"), rows)


def describe(turn: Turn, case: dict[str, Any]) -> str:
    owner_id = case.get("assignee_id")
    owner = turn.rt.directory.staff[owner_id].name if owner_id in turn.rt.directory.staff else owner_id
    partner = turn.rt.directory.partners.get(case.get("partner_id", ""))
    return turn.say("status_one", case_id=case["id"], reference=case.get("reference") or "-",
                    status=case.get("status"), issue=turn.say_issue(case.get("issue_type") or "other"),
                    partner=partner.name if partner else case.get("partner_id"),
                    owner=owner or turn.say("unknown_value"),
                    expected=turn.date(case.get("expected_date")), url=case.get("thread_url") or "")
