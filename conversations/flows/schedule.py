"""A revised schedule: the partner accepts (a tap is the confirmation: written at once), rejects,
or proposes another date, which after confirmation becomes a task for the case owner.

    awaiting_answer --accept--> done                (acknowledgment "accepted")
    awaiting_answer --reject--> awaiting_date       (acknowledgment "rejected"; which date instead?)
    awaiting_answer/awaiting_date --info--> confirming --confirm--> done   (task for the owner)
    confirming --change--> awaiting_date;  confirming --cancel--> awaiting_answer

A finished thread comes back (to awaiting_answer) when the partner replies to its notification
while the case is open: "sorry, we can only do 14/1 after all" becomes a proposal again.
"""
from __future__ import annotations

from typing import TypedDict

from transitions import EventData

from app.events.types import ScheduleRevised
from app.tradinggrid import cases as grid_cases
from app.tradinggrid.bodies import NewTask
from app.writes import PENDING
from conversations.flows import days
from conversations.flows.base import (CONFIRMATION_SECONDS, CONFIRMING_HINTS, CONFIRMING_WAITS_FOR, Flow, slots_of,
                                     turn_of)
from conversations.threads import Thread
from conversations.turn import Turn


def accepted(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    result = turn.acknowledge("schedule", slots["case_id"], "accepted")
    if result is not None:
        turn.reply(turn.say("saving_later", name=turn.first_name) if result == PENDING else
                   turn.say("schedule_accepted", name=turn.first_name, reference=slots["reference"],
                            date=turn.date(slots["proposed_date"])))


def rejected(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    slots["rejected"] = True
    if turn.acknowledge("schedule", slots["case_id"], "rejected") is not None and not event.kwargs.get("date"):
        turn.reply(turn.say("schedule_rejected", reference=slots["reference"]))


def ask_confirm(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    slots["counter_date"] = event.kwargs.get("date") or slots.get("counter_date")
    turn.ask(turn.say("schedule_confirm_date", date=turn.date(slots["counter_date"]), reference=slots["reference"]),
             ["confirm", "change", "cancel"])


def ask_date(event: EventData) -> None:
    turn = turn_of(event)
    turn.reply(turn.say("schedule_rejected", reference=slots_of(turn, Slots)["reference"]))


def ask_again(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    turn.ask(question(turn), ["accept", "reject", "new_date"])
    slots.pop("counter_date", None)


def proposed(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    case = turn.ask_grid(grid_cases.read, slots["case_id"])
    date = slots["counter_date"]
    task = turn.write(NewTask(
        case_id=slots["case_id"], partner_id=slots["partner_id"],
        title=f"Review date proposed for {slots['reference']}: {turn.date(date)}",
        description=f"{turn.person.name} (WhatsApp +{turn.person.phone}) cannot make "
                    f"{turn.date(slots['proposed_date'])} and proposes {turn.date(date)}: \"{turn.text}\"",
        assignee_id=case.assignee_id if case else None), "task")
    if task is None:
        return
    if not slots.get("rejected"):
        turn.acknowledge("schedule", slots["case_id"], "rejected")
    turn.reply(turn.say("saving_later", name=turn.first_name) if task == PENDING else
               turn.say("schedule_proposed", name=turn.first_name, date=turn.date(date), reference=slots["reference"]))


def question(turn: Turn) -> str:
    slots = slots_of(turn, Slots)
    previous = turn.say("schedule_previous", date=turn.date(slots["previous_date"])) if slots.get("previous_date") else ""
    return turn.say("schedule_ask", reference=slots["reference"], proposed=turn.date(slots["proposed_date"]),
                    previous=previous)


class ScheduleFlow(Flow):
    reopenable = True
    pending = ("counter_date",)

    def __init__(self) -> None:
        super().__init__("schedule", ["awaiting_answer", "awaiting_date", "confirming", "done", "cancelled"], [
            {"trigger": "accept", "source": "awaiting_answer", "dest": "done", "after": accepted},
            {"trigger": "reject", "source": "awaiting_answer", "dest": "awaiting_date", "after": rejected},
            {"trigger": "new_date", "source": "awaiting_answer", "dest": "awaiting_date", "after": ask_date},
            {"trigger": "info", "source": ["awaiting_answer", "awaiting_date", "confirming"], "dest": "confirming",
             "after": ask_confirm},
            {"trigger": "confirm", "source": "confirming", "dest": "done", "after": proposed},
            {"trigger": "change", "source": "confirming", "dest": "awaiting_date", "after": ask_date},
            {"trigger": "cancel", "source": "confirming", "dest": "awaiting_answer", "after": ask_again},
        ], initial="awaiting_answer", hints=CONFIRMING_HINTS,
            timeouts={"confirming": (CONFIRMATION_SECONDS, "awaiting_answer")},
            waits_for={**CONFIRMING_WAITS_FOR, "accept": "awaiting_answer", "reject": "awaiting_answer"})

    def stuck(self, turn: Turn) -> bool:
        """Twice no date it can read while a date is wanted: a date picker or the next working days."""
        if turn.here.state != "awaiting_date" or not days.missed(turn.here.slots):
            return False
        days.offer(turn, slots_of(turn, Slots)["reference"])
        return True

    def event(self, turn: Turn) -> str | None:
        state = turn.here.state
        picked = days.picked(turn)
        if picked is not None:
            turn.event_kwargs = {"date": picked}
            return "info"
        if turn.action:
            return turn.action
        intent, date = turn.reading.intent, turn.reading.date
        if date:
            days.read_one(turn.here.slots)
        if date and intent in ("provide_info", "reject", "cancel", "unknown") and state != "done":
            turn.event_kwargs = {"date": date}
            return "info" if intent != "reject" or state != "awaiting_answer" else "reject_with_date"
        if state == "awaiting_answer":
            return {"accept": "accept", "confirm": "accept", "reject": "reject", "cancel": "reject"}.get(intent)
        return {"confirm": "confirm", "accept": "confirm", "cancel": "cancel"}.get(intent)

    def fire(self, turn: Turn, trigger: str) -> bool:
        if trigger == "reject_with_date":  # "we cannot accept, earliest is 8/12": reject, then propose
            return super().fire(turn, "reject") and super().fire(turn, "info")
        return super().fire(turn, trigger)


FLOW = ScheduleFlow()


class Slots(TypedDict, total=False):
    case_id: str
    partner_id: str
    reference: str
    proposed_date: str       # what Trading Grid proposes (YYYY-MM-DD)
    previous_date: str | None
    thread_url: str
    counter_date: str | None  # the date the partner offers instead, waiting for Confirm
    rejected: bool            # the proposal's rejection is written already
    misses: int               # messages in a row with no date, waiting for one (flows.days)


def thread_id(case_id: str) -> str:
    return f"schedule:{case_id}"


def opening(event: ScheduleRevised) -> Thread:
    """The thread a `schedule.revised` event opens: the proposed date, waiting for an answer."""
    return FLOW.open(thread_id(event.case_id), Slots(case_id=event.case_id, partner_id=event.partner_id,
                                                     reference=event.reference, proposed_date=event.proposed_date,
                                                     previous_date=event.previous_date, thread_url=event.thread_url))
