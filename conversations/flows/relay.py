"""A staff member's side of a partner conversation about a case: a notification that a partner
commented or needs a person opens it, and what the staff member writes in answer to that
notification (quoting it) goes to the partner (conversations.replies). Only a quoted answer
reaches it: a staff member's other messages are never sent on to a partner by accident.

    open --say--> open          (until the case closes)
"""
from __future__ import annotations

from typing import TypedDict

from transitions import EventData

from conversations import replies
from conversations.flows.base import Flow, slots_of, turn_of
from conversations.threads import Thread
from conversations.turn import Turn


class Slots(TypedDict, total=False):
    case_id: str
    partner_id: str
    thread_url: str
    phone: str  # no case: the partner contact to answer (a hand-off about no case yet)


def thread_id(case_id: str) -> str:
    return f"relay:{case_id}"


def opening(case_id: str, partner_id: str, thread_url: str) -> Thread:
    return FLOW.open(thread_id(case_id), Slots(case_id=case_id, partner_id=partner_id, thread_url=thread_url))


def to_contact(phone: str) -> Thread:
    """The staff member's side of a conversation with a partner contact about no case yet."""
    return FLOW.open(f"relay:to:{phone}", Slots(phone=phone))


def said(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    if slots.get("case_id"):
        replies.answer(turn, slots["case_id"], turn.text)
    else:
        replies.to_contact(turn, slots["phone"], turn.text)


class RelayFlow(Flow):
    quoted_only = True

    def __init__(self) -> None:
        super().__init__("relay", ["open", "done", "cancelled"],
                         [{"trigger": "say", "source": "open", "dest": "open", "after": said}], initial="open")

    def event(self, turn: Turn) -> str | None:
        return "say" if turn.text and not turn.action else None


FLOW = RelayFlow()
