"""Questions about cases: "status CASE-1042", "status PO-778812", "my cases", "open cases acme".
Staff see every case; a partner contact only its own partner's; the answer never tells anyone
whether a case they may not see exists."""
from __future__ import annotations

import re
from rapidfuzz import fuzz, process, utils

from app.directory import Contact, Staff
from app.tradinggrid import cases as grid_cases
from app.tradinggrid.cases import Case
from conversations.turn import Turn
from intents import references

LIST_ROWS = 10
PARTNER_MATCH_CUTOFF = 70


def visible(turn: Turn, cases: list[Case]) -> list[Case]:
    if isinstance(turn.person, Staff):
        return cases
    return [c for c in cases if c.partner_id == turn.person.partner_id]


def scope(turn: Turn) -> dict[str, str]:
    return {} if isinstance(turn.person, Staff) else {"partner_id": turn.person.partner_id}


def status(turn: Turn) -> None:
    refs = turn.reading.references
    written = turn.message.text or ""
    query = " ".join(written[r.start:r.end] for r in refs) or re.sub(r"^\S+\s*", "", turn.text)  # as they wrote it
    found: list[Case] = []
    candidates: list[Case] | None = None  # the cases the asker may see, fetched once if needed

    def by_reference(typed: str) -> list[Case]:
        nonlocal candidates
        if candidates is None:
            candidates = visible(turn, turn.ask_grid(grid_cases.listed, **scope(turn)))
        matched = references.match(typed, [c.reference for c in candidates if c.reference])
        return [c for c in candidates if c.reference == matched]

    for ref in refs:
        if ref.kind == "case":
            case = turn.ask_grid(grid_cases.read, f"CASE-{ref.value}" if ref.value.isdigit() else ref.value)
            found += visible(turn, [case] if case else [])
        else:
            found += by_reference(ref.value)
    if not refs and query:
        found += by_reference(query)
    answer(turn, found, none=turn.say("status_none", query=query or "?"))


def my_cases(turn: Turn) -> None:
    if isinstance(turn.person, Staff):
        cases = turn.ask_grid(grid_cases.listed, assignee_id=turn.person.id, status="open")
    else:
        cases = turn.ask_grid(grid_cases.listed, partner_id=turn.person.partner_id, status="open")
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
        answer(turn, turn.ask_grid(grid_cases.listed, status="open"), none=turn.say("cases_none"), listing=True)
        return
    answer(turn, turn.ask_grid(grid_cases.listed, partner_id=partner_id, status="open"),
           none=turn.say("cases_none"), listing=True)


def show(turn: Turn, case_id: str) -> None:
    """A tapped row of a case list."""
    case = turn.ask_grid(grid_cases.read, case_id)
    answer(turn, visible(turn, [case] if case else []), none=turn.say("status_none", query=case_id))


def answer(turn: Turn, cases: list[Case], none: str, listing: bool = False) -> None:
    if not cases:
        turn.reply(none)
    elif len(cases) == 1:
        turn.reply(describe(turn, cases[0]))
    else:
        rows = [(f"q|case|{c.id}", f"{c.id} {c.reference or ''}".strip(),
                 f"{turn.say_issue(c.issue_type)}, {c.status}, "
                 f"{turn.date(c.expected_date) if c.expected_date else ''}".rstrip(", "))
                for c in cases[:LIST_ROWS]]
        body = (turn.say("cases_list", count=len(cases)) if listing else turn.say("status_many", count=len(cases)))
        turn.choose(body, turn.say("cases_button"), rows)


def describe(turn: Turn, case: Case) -> str:
    owner_id = case.assignee_id
    owner = turn.rt.directory.staff[owner_id].name if owner_id in turn.rt.directory.staff else owner_id
    partner = turn.rt.directory.partners.get(case.partner_id)
    return turn.say("status_one", case_id=case.id, reference=case.reference or "-",
                    status=case.status, issue=turn.say_issue(case.issue_type),
                    partner=partner.name if partner else case.partner_id,
                    owner=owner or turn.say("unknown_value"),
                    expected=turn.date(case.expected_date), url=case.thread_url or "")
