"""Acknowledgments: an alert, a case assignment, a document to approve ("received"), a document
request or an onboarding step ("done"). One tap or one word is the whole answer and is written
at once; an onboarding step may also be put off until tomorrow.

    awaiting_ack --ack--> done          awaiting_ack --remind--> awaiting_ack (onboarding)
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, TypedDict

from transitions import EventData

from app import queues, reach
from app.events.types import Event
from app.writes import PENDING
from conversations import say
from conversations.flows.base import Callback, Flow, slots_of, turn_of
from conversations.threads import Thread
from conversations.turn import Turn
from intents import asks_reminder

SNOOZE_SECONDS = 24 * 3600


class Slots(TypedDict, total=False):
    """What an acknowledgment thread keeps; each kind fills its own (SLOTS below)."""

    subject_id: str               # what the acknowledgment is of, in Trading Grid
    title: str                    # alert
    ack_deadline: str | None      # alert
    owner_id: str | None          # alert: who hears of those who did not answer
    case_id: str | None           # assignment, document, document request
    assigned_at: float            # assignment
    document_name: str            # document
    document_type: str            # document request
    action: str                   # onboarding
    event_id: str                 # onboarding: the event its reminders are planned from
    remind_every_hours: int       # onboarding
    due_date: str | None          # onboarding
    next_reminder_at: int         # onboarding: the one planned reminder still wanted


@dataclasses.dataclass(frozen=True)
class Kind:
    subject_type: str   # acknowledgment subject in Trading Grid
    response: str       # acknowledgment response
    thanks: str         # prompt key
    button: str         # the button that answers


KINDS = {
    "alert": Kind("alert", "acknowledged", "alert_acknowledged", "acknowledge"),
    "assignment": Kind("assignment", "acknowledged", "assignment_acknowledged", "acknowledge"),
    "document": Kind("document", "received", "document_received", "received"),
    "document_request": Kind("document", "done", "document_done", "done"),
    "onboarding": Kind("onboarding", "done", "onboarding_done", "done"),
}
ANSWERS = frozenset({"acknowledge", "confirm", "accept", "done"})


def make_acknowledged(kind: Kind) -> Callback:
    def acknowledged(event: EventData) -> None:
        turn = turn_of(event)
        slots = slots_of(turn, Slots)
        result = turn.acknowledge(kind.subject_type, slots["subject_id"], kind.response)
        if result is not None:
            turn.reply(turn.say("saving_later", name=turn.first_name) if result == PENDING else
                       turn.say(kind.thanks, name=turn.first_name, **in_words(turn, slots)))
    return acknowledged


def in_words(turn: Turn, slots: Slots) -> dict[str, Any]:
    """The slots a thanks names, Trading Grid's codes said in the person's language."""
    words: dict[str, Any] = {k: v for k, v in slots.items() if k != "name"}
    for slot, group in (("action", "onboarding_actions"), ("document_type", "document_types")):
        code = words.get(slot)
        if isinstance(code, str):
            words[slot] = say.term(turn.language, group, code)
    return words


def snoozed(event: EventData) -> None:
    """'Remind me tomorrow': the next reminder moves to this time tomorrow (or 08:00 after it)."""
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    at = int(reach.waking_moment(turn.rt, turn.person, time.time() + SNOOZE_SECONDS))
    slots["next_reminder_at"] = at
    if slots.get("event_id"):
        turn.schedule(at, queues.REMIND_ONBOARDING, slots["event_id"], turn.person.phone, at,
                      job_id=f"onboarding-{slots['event_id']}-{turn.person.phone}-{at}")
    turn.reply(turn.say("onboarding_snoozed"))


class AckFlow(Flow):
    def __init__(self, name: str, kind: Kind):
        transitions = [{"trigger": "ack", "source": "awaiting_ack", "dest": "done", "after": make_acknowledged(kind)}]
        if name == "onboarding":
            transitions.append({"trigger": "remind", "source": "awaiting_ack", "dest": "awaiting_ack",
                                "after": snoozed})
        super().__init__(name, ["awaiting_ack", "done", "cancelled"], transitions, initial="awaiting_ack",
                         waits_for={"acknowledge": "awaiting_ack", "done": "awaiting_ack"})
        self.kind = kind

    def event(self, turn: Turn) -> str | None:
        if turn.action:
            return "ack" if turn.action == self.kind.button else turn.action
        if self.name == "onboarding" and asks_reminder(turn.text, turn.language):
            return "remind"
        return "ack" if turn.reading.intent in ANSWERS else None


FLOWS = {name: AckFlow(name, kind) for name, kind in KINDS.items()}

# Each kind's thread: the subject it is named by (a later event about the same subject, or a
# reminder, finds it by the same id), and what it keeps of the event that opens it.
THREAD_IDS: dict[str, Callable[[Any], str]] = {  # each takes its own event type
    "alert": lambda e: f"alert:{e.alert_id}",
    "assignment": lambda e: f"assignment:{e.case_id}",
    "document": lambda e: f"document:{e.document_id}",
    "document_request": lambda e: f"docreq:{e.partner_id}:{e.document_type}",
    "onboarding": lambda e: f"onboarding:{e.partner_id}:{e.action}",
}
SLOTS: dict[str, Callable[[Any], Slots]] = {
    "alert": lambda e: Slots(subject_id=e.alert_id, title=e.title, ack_deadline=e.ack_deadline, owner_id=e.owner_id),
    "assignment": lambda e: Slots(subject_id=e.case_id, case_id=e.case_id, assigned_at=time.time()),
    "document": lambda e: Slots(subject_id=e.document_id, document_name=e.document_name, case_id=e.case_id),
    "document_request": lambda e: Slots(subject_id=e.case_id or f"{e.partner_id}:{e.document_type}",
                                        document_type=e.document_type, case_id=e.case_id),
    "onboarding": lambda e: Slots(subject_id=f"{e.partner_id}:{e.action}", action=e.action, event_id=e.id,
                                  remind_every_hours=e.remind_every_hours or 48, due_date=e.due_date),
}


def thread_id(flow: str, event: Event) -> str:
    return THREAD_IDS[flow](event)


def opening(flow: str, event: Event) -> Thread:
    """The thread an event opens for whoever must acknowledge it, waiting for that answer."""
    return FLOWS[flow].open(thread_id(flow, event), SLOTS[flow](event))
