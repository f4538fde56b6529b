"""When words fail, a form: a thread that wants a date and twice in a row could not read one
offers a WhatsApp Flow with a date picker (WHATSAPP_DATE_FLOW_ID) or, without one, the next five
working days on the person's own calendar as a list. What comes back (the Flow's nfm_reply, or
the row tapped) is a date like a typed one. Used by every flow that waits for a date."""
from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping

from app import localtime
from conversations import say
from conversations.turn import Turn, offer as offer_buttons, tap_id

MISSES = "misses"       # in the thread's slots: messages in a row with no date it could read
MISSES_BEFORE_DAYS = 2
DAYS_OFFERED = 5
PICK_DATE = "date:"     # a row's action: the day picked (YYYY-MM-DD)
SCREEN = "PICK_DATE"    # the screen of app/flows/pick_date.json


def missed(slots: MutableMapping[str, object]) -> bool:
    """One more message without a date; True when it is the one after which days are offered."""
    misses = int(str(slots.get(MISSES, 0))) + 1
    slots[MISSES] = 0 if misses >= MISSES_BEFORE_DAYS else misses
    return misses >= MISSES_BEFORE_DAYS


def read_one(slots: MutableMapping[str, object]) -> None:
    """A date was read: the count of misses starts again."""
    slots.pop(MISSES, None)


def offer(turn: Turn, reference: str) -> None:
    """The date picker, or the next working days to tap."""
    today = localtime.local_date(turn.person.phone, turn.message.timestamp)
    question = turn.say("pick_a_day", reference=reference)
    flow_id = turn.rt.settings.date_flow_id
    if flow_id:
        turn.form(question, flow_id, say.button(turn.language, "choose"), SCREEN,
                  {"reference": reference, "min_date": (today + dt.timedelta(days=1)).isoformat()})
        return
    actions = [f"{PICK_DATE}{d.isoformat()}" for d in working_days(today, DAYS_OFFERED)]
    offer_buttons(turn.here, actions)
    rows = [(tap_id(a, turn.here.id), turn.date(a[len(PICK_DATE):]), None) for a in actions]
    turn.choose(question, say.button(turn.language, "choose"), rows)


def picked(turn: Turn) -> str | None:
    """The day the person picked in the Flow or tapped in the list (YYYY-MM-DD), if this is that."""
    if turn.action and turn.action.startswith(PICK_DATE):
        return turn.action[len(PICK_DATE):]
    return picked_date(turn.message.form)


def picked_date(form: dict[str, object] | None) -> str | None:
    """The day a Flow's date picker sent back: "YYYY-MM-DD", or (older Flow versions) milliseconds."""
    value = (form or {}).get("date")
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
            return dt.datetime.fromtimestamp(int(value) / 1000, dt.timezone.utc).date().isoformat()
        return dt.date.fromisoformat(str(value)).isoformat() if value else None
    except (ValueError, OverflowError, OSError):
        return None


def working_days(today: dt.date, count: int) -> list[dt.date]:
    """The next `count` days after `today` that are not a Saturday or a Sunday."""
    days: list[dt.date] = []
    day = today
    while len(days) < count:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days
