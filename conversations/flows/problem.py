"""A partner reports a new problem unprompted ("shipment SH-99812 stuck at customs"): the bot
collects the reference, the issue type and a few words, says them back, and on confirmation
opens the case.

    (any open state) --info--> need_reference | need_details | confirming   (what is still missing)
    confirming --confirm--> done (case created);  confirming --change--> need_details
    (any open state) --cancel--> cancelled
"""
from __future__ import annotations

import re
from typing import TypedDict

from transitions import EventData

from app.directory import Contact
from app.tradinggrid.bodies import NewCase
from app.tradinggrid.cases import Case
from app.writes import PENDING
from conversations.flows.base import (CONFIRMATION_SECONDS, CONFIRMING_HINTS, CONFIRMING_WAITS_FOR, Flow, slots_of,
                                     turn_of)
from conversations.threads import Thread
from conversations.turn import Turn
from intents import problem_type
from intents.references import Reference


class Slots(TypedDict, total=False):
    reference: str          # as the partner wrote it
    details: str            # what went wrong, in their words
    issue_type: str | None  # read from their words, else other
    case_id: str            # once the case is created


def gather(event: EventData) -> None:
    collect(turn_of(event))


def lacks_reference(event: EventData) -> bool:
    return not turn_of(event).here.slots.get("reference")


def lacks_details(event: EventData) -> bool:
    return not turn_of(event).here.slots.get("details")


def ask_reference(event: EventData) -> None:
    turn_of(event).reply(turn_of(event).say("problem_ask_reference"))


def ask_details(event: EventData) -> None:
    turn = turn_of(event)
    turn.reply(turn.say("problem_ask_details", reference=slots_of(turn, Slots)["reference"]))


def ask_confirm(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    turn.ask(turn.say("problem_confirm", issue=turn.say_issue(slots.get("issue_type") or "other"),
                      reference=slots["reference"], details=slots["details"]), ["confirm", "change", "cancel"])


def as_written(text: str, ref: Reference) -> str:
    """The reference as the partner wrote it ("SH-55501", "PO 4410093"), without a word naming its
    kind before an identifier that stands on its own ("shipment SH-55501")."""
    written = text[ref.start:ref.end].strip()
    head, _, tail = written.partition(" ")
    if tail and re.search(r"[^\W\d_]", tail) and re.search(r"\d", tail) and not re.search(r"\d", head):
        return tail.strip()
    return written or ref.value


def collect(turn: Turn) -> None:
    """Takes from the message what is still missing: reference, issue type, details."""
    slots = slots_of(turn, Slots)
    if turn.here.state == "confirming":
        slots.pop("details", None)  # what comes now replaces what was said back
    refs = turn.reading.references
    if refs and not slots.get("reference"):
        slots["reference"] = as_written(turn.message.text or "", refs[0])
    kind = problem_type(turn.text, turn.language)
    if kind and slots.get("issue_type") in (None, "other"):
        slots["issue_type"] = kind
    original = turn.message.text or ""
    rest = original
    for ref in refs:
        rest = rest.replace(original[ref.start:ref.end], " ")
    if not slots.get("details") and (len(rest.split()) >= 2 or kind):
        slots["details"] = turn.text


def create(event: EventData) -> None:
    turn = turn_of(event)
    slots, person = slots_of(turn, Slots), turn.person
    if not isinstance(person, Contact):  # the router opens problem reports for partner contacts only
        return
    case = turn.write(NewCase(person.partner_id, slots.get("issue_type") or "other", slots["reference"],
                              slots["details"]), "create_case")
    if case is None:
        return
    if case == PENDING:
        turn.reply(turn.say("saving_later", name=turn.first_name))
        return
    assert isinstance(case, dict)
    created = Case.of(case)
    slots["case_id"] = created.id
    turn.comment(created.id, f"{slots['details']} — {turn.person.name} via WhatsApp")
    turn.reply(turn.say("problem_created", name=turn.first_name, case_id=created.id, reference=slots["reference"]))


def cancelled(event: EventData) -> None:
    turn_of(event).reply(turn_of(event).say("cancelled"))


def forget_details(event: EventData) -> None:
    turn = turn_of(event)
    slots_of(turn, Slots).pop("details", None)
    ask_details(event)


OPEN = ["new", "need_reference", "need_details", "confirming"]


class ProblemFlow(Flow):
    def __init__(self) -> None:
        super().__init__("problem", OPEN + ["done", "cancelled"], [
            {"trigger": "info", "source": OPEN, "dest": "need_reference", "prepare": gather,
             "conditions": lacks_reference, "after": ask_reference},
            {"trigger": "info", "source": OPEN, "dest": "need_details", "conditions": lacks_details,
             "after": ask_details},
            {"trigger": "info", "source": OPEN, "dest": "confirming", "after": ask_confirm},
            {"trigger": "confirm", "source": "confirming", "dest": "done", "after": create},
            {"trigger": "change", "source": "confirming", "dest": "need_details", "after": forget_details},
            {"trigger": "cancel", "source": OPEN, "dest": "cancelled", "after": cancelled},
        ], initial="new", waits_for=CONFIRMING_WAITS_FOR, hints=CONFIRMING_HINTS,
            timeouts={"confirming": (CONFIRMATION_SECONDS, "cancelled")})

    def event(self, turn: Turn) -> str | None:
        if turn.action:
            return turn.action
        intent = turn.reading.intent
        if intent == "cancel" and not turn.reading.references:
            return "cancel"
        if turn.here.state == "confirming" and intent in ("confirm", "accept"):
            return "confirm"
        if intent in ("provide_info", "unknown", "done") or turn.reading.references:
            return "info"
        return None


def reports_problem(turn: Turn) -> bool:
    """Whether an unplaced message from a partner starts a new problem report."""
    return bool(turn.reading.references) or problem_type(turn.text, turn.language) is not None


FLOW = ProblemFlow()


def opening(message_id: str, at: float) -> Thread:
    """The thread a partner's own report opens, named by the message that began it."""
    return FLOW.open(f"problem:{message_id}", at=at)
