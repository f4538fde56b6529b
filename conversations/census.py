"""How many threads are in each flow and state, and who has not acknowledged each alert: what
`/ops` shows, kept up as conversations are saved, so the page costs the same at 20 contacts and
at 20,000 (it used to read and inflate every conversation, three times, for each view).

Each save adds the difference between the threads it loaded and those it writes: usually
nothing, at most a few counters. A conversation that expires (30 days untouched) takes no part in
that, so `rebuild` counts everything again from the conversations themselves; the keepers run it
every REBUILD_EVERY_SECONDS. Its keys are app.keyspace's (CENSUS_STATES, CENSUS_ALERTS,
census_ack_key).
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from app import keyspace

REBUILD_EVERY_SECONDS = 3600
SCAN_BATCH = 500
Snapshot = Mapping[str, tuple[str, str]]  # thread id -> (flow, state)



def _waits_for_ack(thread_id: str, flow: str, state: str) -> str | None:
    """The alert a thread waits to be acknowledged for, if it does."""
    return thread_id.split(":", 1)[1] if flow == "alert" and state == "awaiting_ack" else None


def record(pipe: Any, contact: str, before: Snapshot, after: Snapshot) -> bool:
    """Queues on `pipe` what changed between the threads a conversation was loaded with and those
    it is saved with; False when nothing did (the caller need not send a pipeline at all)."""
    changed = False
    for thread_id in set(before) | set(after):
        old, new = before.get(thread_id), after.get(thread_id)
        if old == new:
            continue
        changed = True
        if old is not None:
            pipe.hincrby(keyspace.CENSUS_STATES, "|".join(old), -1)
            if (alert := _waits_for_ack(thread_id, *old)) is not None:
                pipe.zrem(keyspace.census_ack_key(alert), contact)
        if new is not None:
            pipe.hincrby(keyspace.CENSUS_STATES, "|".join(new), 1)
            if (alert := _waits_for_ack(thread_id, *new)) is not None:
                pipe.zadd(keyspace.census_ack_key(alert), {contact: 0})
                pipe.zadd(keyspace.CENSUS_ALERTS, {alert: time.time()}, nx=True)
    return changed


def states(connection: Any) -> dict[str, dict[str, int]]:
    """Threads by flow and state (none below zero, none at zero)."""
    out: dict[str, dict[str, int]] = {}
    for field, count in connection.hgetall(keyspace.CENSUS_STATES).items():
        if int(count) > 0:
            flow, state = field.decode().split("|", 1)
            out.setdefault(flow, {})[state] = int(count)
    return {flow: dict(sorted(counts.items())) for flow, counts in sorted(out.items())}


def awaiting(connection: Any, offset: int, limit: int) -> tuple[int, list[tuple[str, int, list[str]]]]:
    """How many alerts wait for someone, and for a page of them (newest first): the alert, how
    many have not acknowledged it, and the first `limit` of those contacts."""
    alerts = [a.decode() for a in connection.zrevrange(keyspace.CENSUS_ALERTS, offset, offset + limit - 1)]
    pipe = connection.pipeline(transaction=False)
    pipe.zcard(keyspace.CENSUS_ALERTS)
    for alert in alerts:
        pipe.zcard(keyspace.census_ack_key(alert))
        pipe.zrange(keyspace.census_ack_key(alert), 0, limit - 1)
    answers = pipe.execute()
    page, stale = [], []
    for n, alert in enumerate(alerts):
        count, contacts = answers[1 + 2 * n], answers[2 + 2 * n]
        if count:
            page.append((alert, int(count), [c.decode() for c in contacts]))
        else:
            stale.append(alert)
    if stale:  # everyone has answered: the alert leaves the list
        connection.zrem(keyspace.CENSUS_ALERTS, *stale)
    return int(answers[0]) - len(stale), page


def rebuild(connection: Any, decode: Any) -> None:
    """Counts every conversation again (`decode` reads one stored value), and replaces the
    census with what it found: what expired is no longer counted."""
    counts: Counter[str] = Counter()
    waiting: dict[str, list[str]] = {}
    for key in connection.scan_iter(match=keyspace.conversation_key("*"), count=SCAN_BATCH):
        contact = keyspace.contact_of(key.decode())
        for thread_id, thread in decode(connection.get(key)).get("threads", {}).items():
            counts[f"{thread['flow']}|{thread['state']}"] += 1
            if (alert := _waits_for_ack(thread_id, thread["flow"], thread["state"])) is not None:
                waiting.setdefault(alert, []).append(contact)
    known = [a.decode() for a in connection.zrange(keyspace.CENSUS_ALERTS, 0, -1)]
    pipe = connection.pipeline(transaction=False)
    pipe.delete(keyspace.CENSUS_STATES, *[keyspace.census_ack_key(a) for a in set(known) - set(waiting)])
    if counts:
        pipe.hset(keyspace.CENSUS_STATES, mapping=dict(counts))
    for alert, contacts in waiting.items():
        pipe.delete(keyspace.census_ack_key(alert))
        pipe.zadd(keyspace.census_ack_key(alert), dict.fromkeys(contacts, 0))
        pipe.zadd(keyspace.CENSUS_ALERTS, {alert: time.time()}, nx=True)
    if known:
        gone = set(known) - set(waiting)
        if gone:
            pipe.zrem(keyspace.CENSUS_ALERTS, *gone)
    pipe.execute()


def snapshot(threads: Iterable[tuple[str, str, str]]) -> dict[str, tuple[str, str]]:
    """(thread id, flow, state) of each thread, as `record` compares them."""
    return {thread_id: (flow, state) for thread_id, flow, state in threads}
