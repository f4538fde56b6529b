"""A contact's inbox: the messages waiting for its worker, in WhatsApp-timestamp order (then in
order of arrival within a second), each with how often it was taken and what last stopped it.
Recorded by the webhook (`record`), taken one at a time under the contact's lock (`take`, which
also takes the lock, hands back the message handled before and lets go when it is done;
`stopped`), put back by a person (`requeue`, from the parked list) and watched by the keepers'
sweep (`sweep`): every step on it is here.

Keys (app.keyspace): `inbox_key` (zset: id by score), `inbox_messages_key` (hash: id -> message JSON,
`#seq`, `#tries:<id>`, `#why:<id>`, `#at:<id>`: when it was last taken, or KEPT), and
PENDING_CONTACTS (every contact with an inbox)."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

from app import jsonsafe, keyspace, pace, ready, runtime, scripts
from app.runtime import Runtime

SWEEP_AFTER_SECONDS = 10  # a message waiting this long with nobody on its contact was left behind
SWEEP_BATCH = 500  # pending contacts looked at in one round trip
KEPT = "kept"  # in `#at:<id>`: the try before ended knowing what it had sent (app.sendahead)


def tries_field(message_id: str) -> str:
    """In the inbox's hash: how often the message was taken to be handled."""
    return f"#tries:{message_id}"


def why_field(message_id: str) -> str:
    """In the inbox's hash: the last passing failure that stopped the message."""
    return f"#why:{message_id}"


def at_field(message_id: str) -> str:
    """In the inbox's hash: when the message was last taken (µs), or KEPT."""
    return f"#at:{message_id}"


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
    has been taken counting this time, and the last passing failure that stopped it; when the
    try before took it (µs, or KEPT; None if there was none), the moment reserved for its first
    reply under the contact's pair limit (moment, now, what the pace key was set to: µs), and
    how many messages wait behind it."""

    message_id: str
    raw: bytes | None
    tries: int
    why: str | None
    before: str | None = None
    pair: tuple[int, int, int] = (0, 0, 0)
    behind: int = 0


# What a take found (scripts.TAKE): the next message (the lock held), nothing left, another
# worker on the contact, a backoff under way, a sender over its rate, or let go when asked.
HEAD, EMPTY, LOCKED, BACKING_OFF, WAIT, STOPPED = "head", "empty", "locked", "backing", "wait", "stopped"


@dataclasses.dataclass(frozen=True)
class Taken:
    outcome: str
    head: Head | None = None
    wait: float = 0.0  # seconds, for WAIT


def take(pipe: Any, contact: str, token: str, *, lock: bool, retry: str | None = None, done: str | None = None,
         more: bool = True) -> None:
    """Queues on `pipe` one step on the contact's inbox: `done` (the message handled before)
    leaves it; with `lock`, the contact's lock is taken as `token` (unless another holds it, or a
    backoff other than the retry `retry` is under way); then, with `more`, the next message is
    taken (one more try), else the lock is let go. Its answer is read by `taken`."""
    interval = int(pace.SENDER_INTERVAL_SECONDS * 1e6)
    scripts.evalsha(pipe, scripts.TAKE,
                    [keyspace.inbox_key(contact), keyspace.inbox_messages_key(contact), keyspace.last_inbound_key(contact),
                     keyspace.sender_pace_key(contact), keyspace.contact_lock_key(contact), keyspace.retry_key(contact),
                     keyspace.pair_pace_key(contact)],
                    [keyspace.ARRIVALS_PER_SECOND, keyspace.WINDOW_SECONDS, interval, interval * (pace.SENDER_BURST - 1),
                     token, keyspace.CONTACT_LOCK_TTL * 1000, "1" if lock else "0", retry or "", done or "",
                     "1" if more else "0", pace.PAIR_INTERVAL_US, pace.PAIR_TOLERANCE_US])


def taken(answer: list[Any]) -> Taken:
    outcome = answer[0].decode()
    if outcome == HEAD:
        message_id, raw, tries, why, before, moment, now, set_to, behind = answer[1:10]
        return Taken(outcome, Head(message_id.decode(), raw or None, int(tries), why.decode() if why else None,
                                   before.decode() if before else None, (int(moment), int(now), int(set_to)),
                                   int(behind)))
    if outcome == WAIT:
        return Taken(outcome, wait=int(answer[1]) / 1e6)
    return Taken(outcome)


def stopped(pipe: Any, contact: str, message_id: str, reason: str) -> None:
    """Queues on `pipe`: the head met a passing failure, `reason`, after what its try sent was
    recorded (app.drain): the next try knows what left."""
    pipe.hset(keyspace.inbox_messages_key(contact), mapping={why_field(message_id): reason,
                                                               at_field(message_id): KEPT})


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
    contacts it found. Under load thousands of contacts are pending, so each look is pipelined,
    SWEEP_BATCH contacts a round trip, not one or two round trips a contact."""
    rt = runtime.current()
    pending = [raw.decode() for raw in rt.redis.smembers(keyspace.PENDING_CONTACTS)]
    stuck: list[str] = []
    for start in range(0, len(pending), SWEEP_BATCH):
        stuck += _stuck(rt, pending[start:start + SWEEP_BATCH])
    # Waiting this long means the drainer that held a lease for them is gone: start another now.
    ready.wake(rt, stuck, force=bool(stuck))
    return len(stuck)


def _stuck(rt: Runtime, contacts: list[str]) -> list[str]:
    """Those of `contacts` whose first message is older than SWEEP_AFTER_SECONDS with neither a
    lock nor a backoff on them (two round trips); those with nothing left leave the pending set."""
    firsts = scripts.run(rt.redis, lambda pipe: [pipe.zrange(keyspace.inbox_key(c), 0, 0, withscores=True)
                                                 for c in contacts])
    empty = [c for c, first in zip(contacts, firsts) if not first]
    since = time.time() - SWEEP_AFTER_SECONDS
    late = [c for c, first in zip(contacts, firsts) if first and first[0][1] / keyspace.ARRIVALS_PER_SECOND < since]
    if not empty and not late:
        return []

    def look(pipe: Any) -> None:
        for contact in late:
            pipe.exists(keyspace.contact_lock_key(contact), keyspace.retry_key(contact))
        if empty:
            pipe.srem(keyspace.PENDING_CONTACTS, *empty)

    held = scripts.run(rt.redis, look)[:len(late)]
    return [contact for contact, holders in zip(late, held) if not holders]
