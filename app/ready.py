"""Contacts with messages waiting, and the drainer jobs that take them.

Why not one RQ job per message: a job costs RQ a dozen Redis round trips (status, registries,
heartbeats) on each side, more than handling the message itself. Instead the webhook marks the
contact ready (a sorted set, one entry per contact, oldest first) in the same pipelined round trip
that records the message, and an RQ job is queued only when fewer than DRAINERS drainers hold a
lease. A drainer (app.drain.drain_ready) takes contacts one at a time until none is left or its
turn is over, then hands over. Under load a handful of jobs carries thousands of messages; when
quiet, each message still gets its own drainer at once.

Nothing is stranded: marking ready and a drainer's last look happen in Lua on the same keys, so
either the drainer sees the new contact or the webhook sees the drainer gone and queues another.
A drainer that dies loses its lease after LEASE_SECONDS, and the inbox sweep wakes one again.
All keys share the `{ready}` hash tag, so each script touches one Redis Cluster slot.
"""
from __future__ import annotations

import time
from typing import Any

import redis

from app import queues, store

WORKERS_TTL_SECONDS = 10  # how long a process trusts its count of live RQ workers
LEASE_SECONDS = 30  # a drainer not heard of for this long (it died, or waits in RQ's queue) is replaced
TURN_SECONDS = 5  # a drainer's turn, after which it hands over so other queues' work gets a worker
LOCKED_RETRY_SECONDS = 0.1  # a contact another worker holds is looked at again this much later

# KEYS: ready, pending, drainers, tokens. ARGV: now, drainers allowed, lease, delay, force,
# contacts... Marks the contacts ready (an earlier mark stands), and returns a new drainer's
# token when no drainer holds a lease, or more contacts wait than drainers hold one and fewer
# than allowed do (one per worker: more would only wait in RQ's queue), or `force` is 1; else 0.
WAKE = """
local now = tonumber(ARGV[1])
for i = 6, #ARGV do
  redis.call('SADD', KEYS[2], ARGV[i])
  redis.call('ZADD', KEYS[1], 'NX', now + tonumber(ARGV[4]), ARGV[i])
end
if redis.call('ZCARD', KEYS[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local drainers = redis.call('ZCARD', KEYS[3])
if ARGV[5] ~= '1' and drainers > 0
   and (drainers >= tonumber(ARGV[2]) or redis.call('ZCARD', KEYS[1]) <= drainers) then
  return 0
end
local token = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), token)
return token
"""

# KEYS: ready, drainers. ARGV: now, token, lease.
# {1, contact}: take it. {2, seconds}: the next contact is due that much later. {0}: nothing
# left; the drainer's lease is given up in the same step, so a contact marked after this
# finds no drainer and queues one.
NEXT = """
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #due > 0 then
  redis.call('ZREM', KEYS[1], due[1])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2])
  return {1, due[1]}
end
local later = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #later > 0 then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2])
  return {2, tostring(tonumber(later[2]) - now)}
end
redis.call('ZREM', KEYS[2], ARGV[2])
return {0}
"""

_KEYS = [store.READY_CONTACTS, store.PENDING_CONTACTS, store.DRAINERS, store.DRAINER_TOKENS]


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
    return store.evalsha(client, WAKE, _KEYS, [time.time(), allowed_drainers(rt.queues.connection), LEASE_SECONDS,
                                               delay, int(force), *contacts])


def start_drainer(rt: Any, token: int) -> None:
    """Queues the drainer whose lease `mark` just took."""
    if token:
        rt.queues.enqueue(queues.INBOUND, queues.DRAIN_READY, int(token))


def wake(rt: Any, contacts: list[str], delay: float = 0.0, force: bool = False) -> None:
    """Marks `contacts` ready (or, with none, only checks that a drainer is on the work there is)
    and queues a drainer when one is wanted."""
    start_drainer(rt, store.run(rt.redis, lambda client: mark(client, rt, contacts, delay, force))[0])


def next_contact(connection: redis.Redis, token: int) -> tuple[str | None, float | None]:
    """(contact, None) to take; (None, seconds) when the next one is due later; (None, None)
    when nothing is left and the lease is given up."""
    answer = store.call(connection, NEXT, [store.READY_CONTACTS, store.DRAINERS], [time.time(), token, LEASE_SECONDS])
    if answer[0] == 1:
        return answer[1].decode(), None
    if answer[0] == 2:
        return None, max(0.0, float(answer[1]))
    return None, None


def hand_over(rt: Any, token: int) -> None:
    """The end of a drainer's turn: gives up its lease and, if work is left, queues a successor."""
    rt.redis.zrem(store.DRAINERS, token)
    wake(rt, [])
