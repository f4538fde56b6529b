"""Who a business-initiated message may reach (partner contacts who opted in, nobody who sent STOP),
when (not in their quiet hours), and who may be sent a free-form message (inside their 24-hour window)."""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TypeVar

from app import keyspace, localtime
from app.tradinggrid import cases
from app.directory import Contact, Staff
from app.runtime import Runtime

P = TypeVar("P", Contact, Staff, Contact | Staff)


def reachable_among(rt: Runtime, people: Sequence[P]) -> list[P]:
    """Those of `people` a notification may go to: one question to Redis, however many people."""
    opted_in = [p for p in people if not isinstance(p, Contact) or p.opt_in]
    if not opted_in:
        return []
    stopped = rt.redis.smismember(keyspace.OPTED_OUT, [p.phone for p in opted_in])
    return [p for p, gone in zip(opted_in, stopped) if not gone]


def windows_open(rt: Runtime, wa_ids: list[str]) -> dict[str, bool]:
    """For each person, whether they wrote within 24 hours, so a free-form (interactive) message
    may be sent: one round trip to Redis for all of them."""
    pipe = rt.redis.pipeline(transaction=False)
    for wa_id in wa_ids:
        pipe.get(keyspace.last_inbound_key(wa_id))
    now = time.time()
    return {wa_id: last is not None and now - int(last) < keyspace.WINDOW_SECONDS
            for wa_id, last in zip(wa_ids, pipe.execute() if wa_ids else [])}


def waking_moment(rt: Runtime, person: Contact | Staff, at: float) -> float:
    """`at`, or the end of the person's quiet hours after it, on their own clock: the directory's
    time zone, else their partner's country's, else their number's (QUIET_HOURS off: `at`)."""
    if rt.settings.quiet_hours is None:
        return at
    country = rt.directory.partners[person.partner_id].country if isinstance(person, Contact) else None
    return localtime.next_waking_moment(person.phone, at, localtime.zone_of(person.phone, person.timezone, country),
                                        rt.settings.quiet_hours)


def owners(rt: Runtime, case_id: str | None, owner_id: str | None = None) -> list[Staff]:
    """Who answers for something on WhatsApp: `owner_id` (an alert's owner), else the case's
    assignee, else the support group."""
    if not owner_id and case_id:
        case = cases.read(rt.tradinggrid, case_id)
        owner_id = case.assignee_id if case is not None else None
    if owner_id and owner_id in rt.directory.staff:
        return [rt.directory.staff[owner_id]]
    return rt.directory.group_members("support")
