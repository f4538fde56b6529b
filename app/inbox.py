"""A contact's inbox: the messages waiting for its worker, in WhatsApp-timestamp order (then in
order of arrival within a second), each with how often it was taken and what last stopped it.
Recorded by the webhook (`record`), taken one at a time under the contact's lock (`head`,
`done`, `put_back`, `stopped`), put back by a person (`requeue`, from the parked list) and
watched by the keepers' sweep (`sweep`): every step on it is here.

Keys (app.keyspace): `inbox_key` (zset: id by score), `inbox_messages_key` (hash: id -> message JSON,
`#seq`, `#tries:<id>`, `#why:<id>`), and PENDING_CONTACTS (every contact with an inbox)."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

from app import jsonsafe, keyspace, ready, runtime, scripts
from app.runtime import Runtime

SWEEP_AFTER_SECONDS = 10  # a message waiting this long with nobody on its contact was left behind


def tries_field(message_id: str) -> str:
    """In the inbox's hash: how often the message was taken to be handled."""
    return f"#tries:{message_id}"


def why_field(message_id: str) -> str:
    """In the inbox's hash: the last passing failure that stopped the message."""
    return f"#why:{message_id}"


def record(pipe: Any, messages: list[Any]) -> None:
    """Queues on `pipe` the recording of `messages` (InboundMessage, keys in one Cluster slot):
    its answer is one outcome a message (scripts.NEW, or a duplicate)."""
    keys: list[str] = []
    args: list[Any] = [keyspace.INBOUND_DEDUPE_TTL, keyspace.ARRIVALS_PER_SECOND]
    for message in messages:
        keys += (keyspace.seen_key(message.sender, message.id), keyspace.inbox_key(message.sender),
                 keyspace.inbox_messages_key(message.sender))
        args += (message.id, message.timestamp, message.to_json())
    scripts.evalsha(pipe, scripts.RECORD_INBOUND, keys, args)


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
    answer = scripts.call(rt.redis, scripts.NEXT_MESSAGE, [keyspace.inbox_key(contact), keyspace.inbox_messages_key(contact),
                                                 keyspace.last_inbound_key(contact)],
                        [keyspace.ARRIVALS_PER_SECOND, keyspace.WINDOW_SECONDS])
    if not answer:
        rt.redis.srem(keyspace.PENDING_CONTACTS, contact)
        return None
    message_id, raw, tries, why = answer
    return Head(message_id.decode(), raw or None, int(tries), why.decode() if why else None)


def done(rt: Runtime, contact: str, message_id: str) -> None:
    """The message was handled (answered, or parked): it leaves the inbox, counters and all."""
    pipe = rt.redis.pipeline()
    pipe.zrem(keyspace.inbox_key(contact), message_id)
    pipe.hdel(keyspace.inbox_messages_key(contact), message_id, tries_field(message_id), why_field(message_id))
    pipe.execute()


def put_back(rt: Runtime, contact: str, message_id: str) -> None:
    """The head was looked at, not handled: that was not a try."""
    rt.redis.hincrby(keyspace.inbox_messages_key(contact), tries_field(message_id), -1)


def stopped(pipe: Any, contact: str, message_id: str, reason: str) -> None:
    """Queues on `pipe`: the head met a passing failure, `reason`."""
    pipe.hset(keyspace.inbox_messages_key(contact), why_field(message_id), reason)


def requeue(rt: Runtime, message: dict[str, Any]) -> None:
    """A parked message (its stored form) back into its contact's inbox, handled in order with the others."""
    sender = str(message["sender"])
    scripts.call(rt.redis, scripts.REQUEUE, [keyspace.inbox_key(sender), keyspace.inbox_messages_key(sender)],
               [keyspace.ARRIVALS_PER_SECOND, message["id"], int(message["timestamp"]), jsonsafe.dumps(message)])
    ready.wake(rt, [sender])  # pending again, and a drainer on it


def sweep_inboxes() -> int:
    """A safety net, run by the keepers (app.keeper) every few seconds: a contact whose messages
    wait longer than they should while nobody holds the contact (its drainer died with a worker)
    is marked ready again, and a drainer is started if none holds a lease. Returns how many
    contacts it found."""
    rt = runtime.current()
    stuck = []
    for raw in rt.redis.smembers(keyspace.PENDING_CONTACTS):
        contact = raw.decode()
        first = rt.redis.zrange(keyspace.inbox_key(contact), 0, 0, withscores=True)
        if not first:
            rt.redis.srem(keyspace.PENDING_CONTACTS, contact)
        elif (first[0][1] / keyspace.ARRIVALS_PER_SECOND < time.time() - SWEEP_AFTER_SECONDS
              and not rt.redis.exists(keyspace.contact_lock_key(contact), keyspace.retry_key(contact))):
            stuck.append(contact)
    # Waiting this long means the drainer that held a lease for them is gone: start another now.
    ready.wake(rt, stuck, force=bool(stuck))
    return len(stuck)
