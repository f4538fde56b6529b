"""Exception clarification: Trading Grid logged a delay, an invoice mismatch or an order
exception; the partner answers with a new date, a missing reference or a comment; the bot says
back what it understood and writes only on confirmation.

    awaiting_info --info--> confirming --confirm--> done
         ^  |ask                |  ^info (a correction: "no, the 4th")
         |  +--(stays)          |change
         +----------------------+
    awaiting_info/confirming --cancel--> awaiting_info   (nothing written; the case's thread stays open)

A finished thread comes back (to awaiting_info) when the partner replies to its notification
again while the case is still open in Trading Grid (conversations.router).
"""
from __future__ import annotations

from typing import TypedDict

from transitions import EventData

from app.events.types import ExceptionLogged
from app.tradinggrid.bodies import NewExpectedDate, NewReference
from app.writes import PENDING
from conversations.flows import days
from conversations.flows.base import (CONFIRMATION_SECONDS, CONFIRMING_HINTS, CONFIRMING_WAITS_FOR, Flow, slots_of,
                                     turn_of)
from conversations.threads import Thread
from conversations.turn import Turn

WANTED = {"shipment_delay": "wanted_date", "invoice_mismatch": "wanted_reference",
          "order_exception": "wanted_reference", "other": "wanted_any"}
REFERENCE_KINDS = {"po", "invoice", "asn", "shipment", "container", "awb", "sscc", "other"}


class Proposal(TypedDict, total=False):
    """What the partner offered, said back and waiting for Confirm."""

    kind: str      # date, reference or comment
    value: str     # the date (YYYY-MM-DD) or the reference
    ref_kind: str  # for a reference: po, invoice, ...
    text: str      # the message as written


class Slots(TypedDict, total=False):
    case_id: str
    partner_id: str
    reference: str
    issue_type: str
    summary: str
    thread_url: str
    proposal: Proposal  # once an offer was said back
    misses: int         # messages in a row the bot could not read a date from (flows.days)


def thread_id(case_id: str) -> str:
    return f"case:{case_id}"


def opening(event: ExceptionLogged) -> Thread:
    """The thread an `exception.logged` event opens with the partner: the case, waiting for what is missing."""
    return FLOW.open(thread_id(event.case_id), Slots(case_id=event.case_id, partner_id=event.partner_id,
                                                     reference=event.reference, issue_type=event.issue_type,
                                                     summary=event.summary, thread_url=event.thread_url))


def proposal(turn: Turn) -> Proposal | None:
    """What the message offers: a date, else a reference, else (when waiting for info) its words."""
    reading = turn.reading
    if reading.date:
        return Proposal(kind="date", value=reading.date, text=turn.text)
    refs = [r for r in reading.references if r.kind in REFERENCE_KINDS]
    if refs:
        return Proposal(kind="reference", ref_kind=refs[0].kind, value=refs[0].value, text=turn.text)
    return None


def ask_info(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    turn.reply(turn.say("exception_ask", issue=turn.say_issue(slots["issue_type"]).capitalize(),
                        reference=slots["reference"], summary=slots["summary"],
                        wanted=turn.say(WANTED.get(slots["issue_type"], "wanted_any"))))


def ask_confirm(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    offer: Proposal = event.kwargs.get("offer") or slots["proposal"]
    slots["proposal"] = offer
    if offer["kind"] == "date":
        body = turn.say("confirm_date", reference=slots["reference"], date=turn.date(offer["value"]))
    elif offer["kind"] == "reference":
        body = turn.say("confirm_reference", kind=offer["ref_kind"].upper(), value=offer["value"],
                        reference=slots["reference"])
    else:
        body = turn.say("confirm_comment", reference=slots["reference"], text=offer["text"])
    turn.ask(body, ["confirm", "change", "cancel"])


def save(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    offer, case_id = slots["proposal"], slots["case_id"]
    if offer["kind"] == "date":
        result = turn.write(NewExpectedDate(case_id, offer["value"]), "expected_date")
        done = turn.say("saved_date", name=turn.first_name, reference=slots["reference"], date=turn.date(offer["value"]))
    elif offer["kind"] == "reference":
        result = turn.write(NewReference(case_id, offer["ref_kind"], offer["value"]), "reference")
        done = turn.say("saved_reference", name=turn.first_name, kind=offer["ref_kind"].upper(),
                        value=offer["value"], reference=slots["reference"])
    else:
        result = "comment only"
        done = turn.say("saved_comment", name=turn.first_name, reference=slots["reference"])
    if result is None:
        return  # refused: parked, and the partner told
    comment = turn.comment(case_id, f"{offer['text']} — {turn.person.name} via WhatsApp")
    if comment is None:
        return
    turn.reply(turn.say("saving_later", name=turn.first_name) if PENDING in (result, comment) else done)


def cancelled(event: EventData) -> None:
    turn = turn_of(event)
    slots_of(turn, Slots).pop("proposal", None)
    turn.reply(turn.say("cancelled"))


class ExceptionFlow(Flow):
    reopenable = True

    def __init__(self) -> None:
        super().__init__("exception", ["awaiting_info", "confirming", "done", "cancelled"], [
            {"trigger": "ask", "source": "awaiting_info", "dest": "awaiting_info", "after": ask_info},
            {"trigger": "info", "source": ["awaiting_info", "confirming"], "dest": "confirming", "after": ask_confirm},
            {"trigger": "change", "source": "confirming", "dest": "awaiting_info", "after": ask_info},
            {"trigger": "confirm", "source": "confirming", "dest": "done", "after": save},
            {"trigger": "cancel", "source": ["awaiting_info", "confirming"], "dest": "awaiting_info", "after": cancelled},
        ], initial="awaiting_info", waits_for=CONFIRMING_WAITS_FOR, hints=CONFIRMING_HINTS,
            timeouts={"confirming": (CONFIRMATION_SECONDS, "awaiting_info")})

    def stuck(self, turn: Turn) -> bool:
        """The second message in a row with no date it can read, where a date is wanted: a date
        picker or the next working days, instead of another "Sorry"."""
        slots = slots_of(turn, Slots)
        if slots.get("issue_type") != "shipment_delay" or turn.here.state != "awaiting_info":
            return False
        if not days.missed(slots):
            return False
        days.offer(turn, slots["reference"])
        return True

    def event(self, turn: Turn) -> str | None:
        picked = days.picked(turn)
        if picked is not None:
            turn.event_kwargs = {"offer": Proposal(kind="date", value=picked, text=turn.date(picked))}
            return "info"
        if turn.action:
            return {"new_date": "ask", "add_reference": "ask"}.get(turn.action, turn.action)
        intent = turn.reading.intent
        offer = proposal(turn)
        if offer is not None:
            days.read_one(slots_of(turn, Slots))
        if offer is not None and intent in ("provide_info", "cancel", "unknown", "confirm", "done"):
            if intent == "confirm" and turn.here.state == "confirming" and _same(turn, offer):
                return "confirm"  # "yes, 3/12" to "3 Dec?"
            turn.event_kwargs = {"offer": offer}
            return "info"
        if intent in ("confirm", "accept"):
            return "confirm"
        if intent == "cancel":
            return "cancel"
        if turn.here.state == "awaiting_info" and intent == "unknown" and len(turn.text.split()) >= 2:
            turn.event_kwargs = {"offer": Proposal(kind="comment", value=turn.text, text=turn.text)}
            return "info"
        return None


def _same(turn: Turn, offer: Proposal) -> bool:
    current = slots_of(turn, Slots).get("proposal") or Proposal()
    return current.get("kind") == offer.get("kind") and current.get("value") == offer.get("value")


FLOW = ExceptionFlow()
