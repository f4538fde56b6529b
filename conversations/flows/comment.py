"""A partner answers a comment someone wrote on the case (in Trading Grid, or with `reply` on
WhatsApp): the answer is said back, and on Confirm lands as the partner's comment and goes to
the staff member who wrote (else the case's owner).

    awaiting_reply --answer--> confirming --confirm--> done
          ^                       |  ^answer (a correction)
          +--------cancel---------+
"""
from __future__ import annotations

from typing import TypedDict

from transitions import EventData

from app.directory import Contact
from app.events.types import CommentAdded
from app.tradinggrid.bodies import NewComment
from app.writes import PENDING
from conversations.flows.base import CONFIRMATION_SECONDS, Flow, slots_of, turn_of
from conversations.threads import Thread
from conversations.turn import Turn


class Slots(TypedDict, total=False):
    case_id: str
    partner_id: str
    thread_url: str
    staff_id: str | None  # who wrote, when a staff member: they hear the answer
    text: str             # the answer said back, waiting for Confirm


def thread_id(case_id: str) -> str:
    return f"comment:{case_id}"


def opening(event: CommentAdded) -> Thread:
    staff = event.author.id if event.author.kind == "staff" else None
    return FLOW.open(thread_id(event.case_id), Slots(case_id=event.case_id, partner_id=event.partner_id,
                                                      thread_url=event.thread_url, staff_id=staff))


def ask_confirm(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    slots["text"] = str(event.kwargs["text"])
    turn.ask(turn.say("comment_confirm", case_id=slots["case_id"], text=slots["text"]), ["confirm", "cancel"])


def save(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    written = turn.write(NewComment(slots["case_id"], slots["text"], turn.author(), turn.message.id), "comment")
    if written is None:
        return  # refused: parked, and the partner told
    answer_reaches_staff(turn, slots)
    turn.reply(turn.say("saving_later", name=turn.first_name) if written == PENDING else
               turn.say("comment_saved", name=turn.first_name, case_id=slots["case_id"]))


def answer_reaches_staff(turn: Turn, slots: Slots) -> None:
    """The partner's answer, to the staff member who wrote (else the case's owner), as a
    notification of its own: never to a partner."""
    person = turn.person
    assert isinstance(person, Contact)
    turn.announce("comment.added", "answer", case_id=slots["case_id"], partner_id=person.partner_id,
                  comment_id=turn.message.id, body=slots["text"],
                  author={"kind": "partner_contact", "id": person.phone, "name": person.name},
                  visibility="internal", thread_url=slots["thread_url"],
                  **({"notify_staff_id": slots["staff_id"]} if slots.get("staff_id") else {}))


def cancelled(event: EventData) -> None:
    turn = turn_of(event)
    slots_of(turn, Slots).pop("text", None)
    turn.reply(turn.say("cancelled"))


class CommentFlow(Flow):
    def __init__(self) -> None:
        super().__init__("comment", ["awaiting_reply", "confirming", "done", "cancelled"], [
            {"trigger": "answer", "source": ["awaiting_reply", "confirming"], "dest": "confirming",
             "after": ask_confirm},
            {"trigger": "confirm", "source": "confirming", "dest": "done", "after": save},
            {"trigger": "cancel", "source": "confirming", "dest": "awaiting_reply", "after": cancelled},
        ], initial="awaiting_reply", waits_for={"confirm": "confirming", "cancel": "confirming"},
            hints={"confirming": "hint_confirm"}, timeouts={"confirming": (CONFIRMATION_SECONDS, "awaiting_reply")})

    def event(self, turn: Turn) -> str | None:
        if turn.action:
            return turn.action
        intent = turn.reading.intent
        if turn.here.state == "confirming" and intent in ("confirm", "cancel"):
            return intent
        if turn.text:
            turn.event_kwargs = {"text": turn.text[:4000]}
            return "answer"
        return None


FLOW = CommentFlow()
