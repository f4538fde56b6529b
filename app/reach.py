"""Who a business-initiated message may reach: partner contacts who opted in, and nobody who sent STOP."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from app import keyspace
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
