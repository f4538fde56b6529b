"""A staff member takes a case's conversation over (`take CASE-1042`) and hands it back
(`release CASE-1042`, or 24 hours without a message either way). While it is held the bot asks
nothing in that case's threads: what the partner writes there lands on the case as their comment
and reaches the holder on WhatsApp, who answers by replying (conversations.replies). The partner
is told in either direction. Holds live in Redis (`keyspace.HOLDS`), so every worker sees them."""
from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from app import ingest, jsonsafe, keyspace, outbound, queues, runtime
from app.directory import Contact
from app.runtime import Runtime
from app.tradinggrid import cases
from app.tradinggrid.bodies import NewComment
from app.whatsapp import messages
from conversations import identity, say
from conversations.turn import Turn

log = logging.getLogger(__name__)
SILENCE_SECONDS = 24 * 3600
COMMAND = re.compile(r"^\s*(take|release)\s+(\S+)\s*$", re.IGNORECASE)


def command(text: str) -> tuple[str, str] | None:
    """("take" or "release", the case) for a hold command, else None."""
    found = COMMAND.match(text)
    return (found.group(1).lower(), found.group(2).upper()) if found else None


def held(rt: Runtime, case_id: str) -> dict[str, Any] | None:
    """Who holds the case (`staff_id`, `since`, `last`), or None."""
    raw = rt.redis.hget(keyspace.HOLDS, case_id)
    return json.loads(raw) if raw else None


def holds(rt: Runtime) -> list[dict[str, Any]]:
    """Every hold, oldest first: what /ops shows."""
    found = [{"case_id": k.decode(), **json.loads(v)} for k, v in rt.redis.hgetall(keyspace.HOLDS).items()]
    return sorted(found, key=lambda h: h["since"])


def take(turn: Turn, case_id: str) -> dict[str, Any] | None:
    """The staff member holds the case from now: the hold, or None when they may not (the caller
    opens their side of it)."""
    if isinstance(turn.person, Contact):
        turn.reply(turn.say("staff_only", command="take"))
        return None
    case = turn.ask_grid(cases.read, case_id)
    if case is None:
        turn.reply(turn.say("reply_unknown_case", case_id=case_id))
        return None
    now = time.time()
    hold = {"staff_id": turn.person.id, "since": now, "last": now, "partner_id": case.partner_id,
            "thread_url": case.thread_url or ""}
    rt = turn.rt
    rt.redis.hset(keyspace.HOLDS, case.id, jsonsafe.dumps(hold))
    _check_later(rt, case.id, now)
    _tell_partner(rt, case.id, hold, held_now=True, key=turn.key_base)
    turn.reply(turn.say("hold_taken", case_id=case.id))
    return hold


def release(turn: Turn, case_id: str) -> None:
    if isinstance(turn.person, Contact):
        turn.reply(turn.say("staff_only", command="release"))
        return
    hold = held(turn.rt, case_id)
    if hold is None or hold["staff_id"] != turn.person.id:
        turn.reply(turn.say("hold_not_held", case_id=case_id))
        return
    _end(turn.rt, case_id, hold, key=turn.key_base)
    turn.reply(turn.say("hold_released", case_id=case_id))


def touch(rt: Runtime, case_id: str) -> None:
    """A message either way on a held case: its 24 hours of silence start again."""
    hold = held(rt, case_id)
    if hold is not None:
        hold["last"] = time.time()
        rt.redis.hset(keyspace.HOLDS, case_id, jsonsafe.dumps(hold))
        _check_later(rt, case_id, hold["last"])


def forward(turn: Turn, case_id: str, hold: dict[str, Any]) -> None:
    """The partner's message on a held case: on the case as their comment, and to the holder."""
    person = turn.person
    assert isinstance(person, Contact)
    words = turn.text or f"[{turn.message.type}]"
    if turn.write(NewComment(case_id, words, turn.author(), turn.message.id), "held_comment") is None:
        return
    turn.announce("comment.added", "held", case_id=case_id, partner_id=person.partner_id, comment_id=turn.message.id,
                  body=words, author={"kind": "partner_contact", "id": person.phone, "name": person.name},
                  visibility="internal", thread_url=hold.get("thread_url") or "", notify_staff_id=hold["staff_id"])
    touch(turn.rt, case_id)
    told = turn.conversation.session.setdefault("held_told", [])
    if case_id not in told:  # said once a hold, not after every message
        told.append(case_id)
        staff = turn.rt.directory.staff.get(hold["staff_id"])
        turn.reply(turn.say("held_passed", name=staff.name if staff else hold["staff_id"], case_id=case_id))


def check(case_id: str, last: float) -> bool:
    """A job: a hold with no message since `last` for 24 hours goes back to the bot. True if it did."""
    rt = runtime.current()
    hold = held(rt, case_id)
    if hold is None or hold["last"] > last:
        return False
    _end(rt, case_id, hold, key=f"silence:{int(last)}")
    staff = rt.directory.staff.get(hold["staff_id"])
    if staff is not None:
        outbound.deliver(rt, messages.text(identity.address(rt, staff.phone),
                                           say.text(staff.language, "hold_expired", case_id=case_id)),
                         f"hold-expired:{case_id}:{int(last)}")
    return True


def _end(rt: Runtime, case_id: str, hold: dict[str, Any], key: str) -> None:
    rt.redis.hdel(keyspace.HOLDS, case_id)
    _tell_partner(rt, case_id, hold, held_now=False, key=key)


def _check_later(rt: Runtime, case_id: str, last: float) -> None:
    rt.queues.enqueue_at(queues.EVENTS, last + SILENCE_SECONDS, queues.HOLD_CHECK, case_id, last,
                         job_id=f"hold-{keyspace.digest(case_id)}-{int(last)}")


def _tell_partner(rt: Runtime, case_id: str, hold: dict[str, Any], held_now: bool, key: str) -> None:
    """The partner contacts in the case's thread hear who has it (app.notifications, `case.held`)."""
    ingest.record_own_event(rt, f"wa:{key}:{'take' if held_now else 'release'}:{case_id}", "case.held", time.time(),
                            case_id=case_id, partner_id=hold.get("partner_id", ""), staff_id=hold["staff_id"],
                            held=held_now, thread_url=hold.get("thread_url") or "")
