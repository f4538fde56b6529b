"""Contacts with messages waiting, and the drainer jobs that take them.

Why not one RQ job per message: a job costs RQ a dozen Redis round trips (status, registries,
heartbeats) on each side, more than handling the message itself. Instead the webhook marks the
contact ready (a sorted set, one entry per contact, oldest first) in the same pipelined round trip
that records the message, and an RQ job is queued only when fewer than DRAINERS drainers hold a
lease. A drainer (app.drain.drain_ready) takes contacts one at a time until none is left or its
turn is over, then hands over. Under load a handful of jobs carries thousands of messages; when
quiet, each message still gets its own drainer at once. In between (a steady few hundred a
second), a drainer with nothing left lingers LINGER_SECONDS, its lease kept, unless other jobs
wait for its worker: the next message's WAKE nudges it instead of queuing a job, whose RQ
bookkeeping on both sides cost more CPU than answering the message.

Nothing is stranded: marking ready and a drainer's last look happen in Lua on the same keys, so
either the drainer sees the new contact or the webhook sees the drainer gone and queues another.
A drainer that dies loses its lease after LEASE_SECONDS, and the inbox sweep wakes one again.
All keys share the `{ready}` hash tag, so each script touches one Redis Cluster slot.
"""
from __future__ import annotations

import time
from typing import Any

import redis

from app import keyspace, queues, redisline, scripts

WORKERS_TTL_SECONDS = 10  # how long a process trusts its count of live RQ workers
LEASE_SECONDS = 30  # a drainer not heard of for this long (it died, or waits in RQ's queue) is replaced
TURN_SECONDS = 5  # a drainer's turn, after which it hands over so other queues' work gets a worker
LOCKED_RETRY_SECONDS = 0.1  # a contact another worker holds is looked at again this much later
LINGER_SECONDS = 0.25  # a drainer with nothing left waits this long for a nudge (the longest other jobs wait for it)


_KEYS = [keyspace.READY_CONTACTS, keyspace.PENDING_CONTACTS, keyspace.DRAINERS, keyspace.DRAINER_TOKENS,
         keyspace.LINGERING, keyspace.NUDGES]
LINGER = -1.0  # next_contact's wait when the drainer is to linger for a nudge


_workers: tuple[float, int] = (0.0, 1)  # (when counted, live RQ workers), per process


def allowed_drainers(connection: redis.Redis) -> int:
    """As many drainers as there are live workers (at least one) on RQ's `connection`, counted
    every few seconds."""
    global _workers
    counted, workers = _workers
    if time.monotonic() - counted > WORKERS_TTL_SECONDS:
        from rq import Worker
        workers = max(1, Worker.count(connection=connection))
        _workers = (time.monotonic(), workers)
    return workers


def mark(client: Any, rt: Any, contacts: list[str], delay: float = 0.0, force: bool = False) -> Any:
    """Queues the wake script on `client` (a pipeline, to share the webhook's round trip);
    its answer is a drainer token to start, or 0. `force`: a drainer whatever the leases say."""
    return scripts.evalsha(client, scripts.WAKE, _KEYS, [time.time(), allowed_drainers(rt.queues.connection), LEASE_SECONDS,
                                               delay, int(force), *contacts])


def start_drainer(rt: Any, token: int) -> None:
    """Queues the drainer whose lease `mark` just took."""
    if token:
        rt.queues.enqueue(queues.INBOUND, queues.DRAIN_READY, int(token))


def wake(rt: Any, contacts: list[str], delay: float = 0.0, force: bool = False) -> None:
    """Marks `contacts` ready (or, with none, only checks that a drainer is on the work there is)
    and queues a drainer when one is wanted."""
    start_drainer(rt, scripts.run(rt.redis, lambda client: mark(client, rt, contacts, delay, force))[0])


def next_contact(connection: redis.Redis, token: int, emptied: str | None = None,
                 linger: bool = False) -> tuple[str | None, float | None]:
    """(contact, None) to take; (None, seconds) when the next one is due later; (None, LINGER)
    when nothing is left and the drainer is to wait for a nudge (`linger`, holding its lease);
    (None, None) when nothing is left and the lease is given up. `emptied`: the contact this
    drainer just found with nothing left, no longer pending (in the same step, unless marked
    ready meanwhile)."""
    answer = scripts.run(connection, lambda pipe: scripts.evalsha(
        pipe, scripts.NEXT_CONTACT,
        [keyspace.READY_CONTACTS, keyspace.DRAINERS, keyspace.PENDING_CONTACTS, keyspace.LINGERING, keyspace.NUDGES],
        [time.time(), token, LEASE_SECONDS, int(linger), *([emptied] if emptied else [])]),
        redisline.for_thread(connection))[0]
    if answer[0] == 1:
        return answer[1].decode(), None
    if answer[0] == 2:
        return None, max(0.0, float(answer[1]))
    if answer[0] == 3:
        return None, LINGER
    return None, None


def nudged(connection: redis.Redis, seconds: float) -> bool:
    """A lingering drainer waits up to `seconds` for WAKE's nudge; True if one came."""
    return connection.blpop([keyspace.NUDGES], timeout=seconds) is not None


def let_go(connection: redis.Redis, token: int) -> None:
    """A drainer gives up its lease (and its lingering, if it was)."""
    pipe = connection.pipeline(transaction=False)
    pipe.zrem(keyspace.DRAINERS, token)
    pipe.zrem(keyspace.LINGERING, token)
    pipe.execute()


def hand_over(rt: Any, token: int) -> None:
    """The end of a drainer's turn: gives up its lease and, if work is left, queues a successor."""
    let_go(rt.redis, token)
    wake(rt, [])
