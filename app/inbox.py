"""A contact's inbox: the messages waiting for its worker, in WhatsApp-timestamp order (then in
order of arrival within a second), each with how often it was taken and what last stopped it.
Recorded by the webhook (`record`), taken one at a time under the contact's lock (`head`,
`done`, `put_back`, `stopped`), put back by a person (`requeue`, from the parked list) and
watched by the keepers' sweep (`sweep`): every step on it is here.

Keys (app.store): `inbox_key` (zset: id by score), `inbox_messages_key` (hash: id -> message JSON,
`#seq`, `#tries:<id>`, `#why:<id>`), and PENDING_CONTACTS (every contact with an inbox)."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

from app import jsonsafe, ready, runtime, store
from app.runtime import Runtime

SWEEP_AFTER_SECONDS = 10  # a message waiting this long with nobody on its contact was left behind

# KEYS: seen, inbox and msgs of each message, three by three. ARGV: dedupe TTL, arrivals per
# second, then the id, WhatsApp timestamp and stored JSON of each message, three by three. One
# answer a message: 1 new (recorded), 2 a duplicate still waiting in the inbox, 0 already handled.
# (The webhook marks the contact ready whichever it is.) Several messages to a call, because a
# script call costs Redis more than the commands in it; their keys must share a Cluster slot.
RECORD_INBOUND = """
local ttl, per_second, answers = ARGV[1], tonumber(ARGV[2]), {}
for first = 1, #KEYS, 3 do
  local seen, inbox, msgs = KEYS[first], KEYS[first + 1], KEYS[first + 2]
  local id, timestamp, message = ARGV[first + 2], ARGV[first + 3], ARGV[first + 4]
  local answer = 0
  if redis.call('SET', seen, '1', 'NX', 'EX', ttl) then
    local seq = redis.call('HINCRBY', msgs, '#seq', 1) % per_second
    redis.call('HSET', msgs, id, message)
    redis.call('ZADD', inbox, tonumber(timestamp) * per_second + seq, id)
    answer = 1
  elseif redis.call('ZSCORE', inbox, id) then
    answer = 2
  end
  answers[#answers + 1] = answer
end
return answers
"""

# KEYS: inbox, msgs, last_in. ARGV: arrivals per second, window seconds. The contact's next
# message as {id, parsed message, tries, why} (the message is false when it went missing), or {}
# when the inbox is empty; the 24-hour window is reckoned from its timestamp. `tries` counts this
# one: a message whose handling never finished (its worker died, or the failure could not even be
# recorded) comes back with a higher count each time, and `why` is the last passing failure.
NEXT_MESSAGE = """
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #head == 0 then
  redis.call('DEL', KEYS[2])  -- nothing waits: the arrival counter starts again
  return {}
end
local raw = redis.call('HGET', KEYS[2], head[1])
if raw then
  redis.call('SET', KEYS[3], math.floor(tonumber(head[2]) / tonumber(ARGV[1])), 'EX', ARGV[2])
end
local tries = redis.call('HINCRBY', KEYS[2], '#tries:' .. head[1], 1)
return {head[1], raw, tries, redis.call('HGET', KEYS[2], '#why:' .. head[1])}
"""

# KEYS: inbox, msgs. ARGV: arrivals per second, id, WhatsApp timestamp, stored JSON. A message
# back from the parked list, in its place by its own time: first of its second, since anything of
# the same second still waiting arrived after it (it was parked long before).
REQUEUE = """
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('HDEL', KEYS[2], '#tries:' .. ARGV[2], '#why:' .. ARGV[2])
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]) * tonumber(ARGV[1]), ARGV[2])
return 1
"""


def tries_field(message_id: str) -> str:
    """In the inbox's hash: how often the message was taken to be handled."""
    return f"#tries:{message_id}"


def why_field(message_id: str) -> str:
    """In the inbox's hash: the last passing failure that stopped the message."""
    return f"#why:{message_id}"


def record(pipe: Any, messages: list[Any]) -> None:
    """Queues on `pipe` the recording of `messages` (InboundMessage, keys in one Cluster slot):
    its answer is one outcome a message (store.NEW, or a duplicate)."""
    keys: list[str] = []
    args: list[Any] = [store.INBOUND_DEDUPE_TTL, store.ARRIVALS_PER_SECOND]
    for message in messages:
        keys += (store.seen_key(message.sender, message.id), store.inbox_key(message.sender),
                 store.inbox_messages_key(message.sender))
        args += (message.id, message.timestamp, message.to_json())
    store.evalsha(pipe, RECORD_INBOUND, keys, args)


@dataclasses.dataclass(frozen=True)
class Head:
    """The contact's next message: its id, stored JSON (None when it went missing), how often it
    has been taken counting this time, and the last passing failure that stopped it."""

    message_id: str
    raw: bytes | None
    tries: int
    why: str | None


def head(rt: Runtime, contact: str) -> Head | None:
    """Takes the next message (one more try), or None when the inbox is empty (and the contact
    no longer pending)."""
    answer = store.call(rt.redis, NEXT_MESSAGE, [store.inbox_key(contact), store.inbox_messages_key(contact),
                                                 store.last_inbound_key(contact)],
                        [store.ARRIVALS_PER_SECOND, store.WINDOW_SECONDS])
    if not answer:
        rt.redis.srem(store.PENDING_CONTACTS, contact)
        return None
    message_id, raw, tries, why = answer
    return Head(message_id.decode(), raw or None, int(tries), why.decode() if why else None)


def done(rt: Runtime, contact: str, message_id: str) -> None:
    """The message was handled (answered, or parked): it leaves the inbox, counters and all."""
    pipe = rt.redis.pipeline()
    pipe.zrem(store.inbox_key(contact), message_id)
    pipe.hdel(store.inbox_messages_key(contact), message_id, tries_field(message_id), why_field(message_id))
    pipe.execute()


def put_back(rt: Runtime, contact: str, message_id: str) -> None:
    """The head was looked at, not handled: that was not a try."""
    rt.redis.hincrby(store.inbox_messages_key(contact), tries_field(message_id), -1)


def stopped(pipe: Any, contact: str, message_id: str, reason: str) -> None:
    """Queues on `pipe`: the head met a passing failure, `reason`."""
    pipe.hset(store.inbox_messages_key(contact), why_field(message_id), reason)


def requeue(rt: Runtime, message: dict[str, Any]) -> None:
    """A parked message (its stored form) back into its contact's inbox, handled in order with the others."""
    sender = str(message["sender"])
    store.call(rt.redis, REQUEUE, [store.inbox_key(sender), store.inbox_messages_key(sender)],
               [store.ARRIVALS_PER_SECOND, message["id"], int(message["timestamp"]), jsonsafe.dumps(message)])
    ready.wake(rt, [sender])  # pending again, and a drainer on it


def sweep_inboxes() -> int:
    """A safety net, run by the keepers (app.keeper) every few seconds: a contact whose messages
    wait longer than they should while nobody holds the contact (its drainer died with a worker)
    is marked ready again, and a drainer is started if none holds a lease. Returns how many
    contacts it found."""
    rt = runtime.current()
    stuck = []
    for raw in rt.redis.smembers(store.PENDING_CONTACTS):
        contact = raw.decode()
        first = rt.redis.zrange(store.inbox_key(contact), 0, 0, withscores=True)
        if not first:
            rt.redis.srem(store.PENDING_CONTACTS, contact)
        elif (first[0][1] / store.ARRIVALS_PER_SECOND < time.time() - SWEEP_AFTER_SECONDS
              and not rt.redis.exists(store.contact_lock_key(contact), store.retry_key(contact))):
            stuck.append(contact)
    # Waiting this long means the drainer that held a lease for them is gone: start another now.
    ready.wake(rt, stuck, force=bool(stuck))
    return len(stuck)
