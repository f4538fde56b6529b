"""Acknowledgments: an alert, a case assignment, a document to approve ("received"), a document
request or an onboarding step ("done"). One tap or one word is the whole answer and is written
at once; an onboarding step may also be put off until tomorrow.

    awaiting_ack --ack--> done          awaiting_ack --remind--> awaiting_ack (onboarding)
"""
from __future__ import annotations

import dataclasses
import time

from transitions import EventData

from app import localtime, queues
from app.writes import PENDING
from conversations.flows.base import Flow, turn_of
from conversations.turn import Turn
from intents import asks_reminder

SNOOZE_SECONDS = 24 * 3600


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


def make_acknowledged(kind: Kind):  # type: ignore[no-untyped-def]
    def acknowledged(event: EventData) -> None:
        turn = turn_of(event)
        slots = turn.thread.slots  # type: ignore[union-attr]
        result = turn.acknowledge(kind.subject_type, slots["subject_id"], kind.response)
        if result is not None:
            turn.reply(turn.say("saving_later", name=turn.first_name) if result == PENDING else
                       turn.say(kind.thanks, name=turn.first_name, **{k: v for k, v in slots.items() if k != "name"}))
    return acknowledged


def snoozed(event: EventData) -> None:
    """'Remind me tomorrow': the next reminder moves to this time tomorrow (or 08:00 after it)."""
    turn = turn_of(event)
    slots = turn.thread.slots  # type: ignore[union-attr]
    at = int(localtime.next_waking_moment(turn.person.phone, time.time() + SNOOZE_SECONDS))
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
        super().__init__(name, ["awaiting_ack", "done", "cancelled"], transitions, initial="awaiting_ack")
        self.kind = kind

    def event(self, turn: Turn) -> str | None:
        if turn.action:
            return "ack" if turn.action == self.kind.button else turn.action
        if self.name == "onboarding" and asks_reminder(turn.text, turn.language):
            return "remind"
        return "ack" if turn.reading.intent in ANSWERS else None


FLOWS = {name: AckFlow(name, kind) for name, kind in KINDS.items()}
