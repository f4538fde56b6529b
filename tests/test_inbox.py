"""A contact's inbox, step by step: recorded in order, taken one try at a time under the
contact's lock, put back by a person from the parked list in its own place."""
from __future__ import annotations

import json
import time

from app import inbox, ingest, keyspace, scripts
from app.whatsapp.inbound import InboundMessage

MARIA = "14155550134"


def arrive(rt, message_id: str, timestamp: int) -> None:  # type: ignore[no-untyped-def]
    message = InboundMessage(id=message_id, sender=MARIA, timestamp=timestamp, type="text", text=message_id)
    assert scripts.run(rt.redis, lambda pipe: inbox.record(pipe, [message])) == [[scripts.NEW]]


def take(rt, token: str = "mine", **how) -> inbox.Taken:  # type: ignore[no-untyped-def]
    how.setdefault("lock", False)
    return inbox.taken(scripts.run(rt.redis, lambda pipe: inbox.take(pipe, MARIA, token, **how))[0])


def test_messages_are_taken_in_whatsapp_time_under_the_contacts_lock(rt) -> None:
    now = int(time.time())
    arrive(rt, "wamid.later", now)
    arrive(rt, "wamid.earlier", now - 60)
    first = take(rt, lock=True)
    assert first.head is not None and (first.head.message_id, first.head.tries) == ("wamid.earlier", 1)
    assert rt.redis.get(keyspace.contact_lock_key(MARIA)) == b"mine"
    assert take(rt, "theirs", lock=True).outcome == inbox.LOCKED, "one worker on a contact at a time"
    second = take(rt, done="wamid.earlier")
    assert second.head is not None and (second.head.message_id, second.head.tries) == ("wamid.later", 1)
    assert take(rt, done="wamid.later").outcome == inbox.EMPTY
    assert rt.redis.get(keyspace.contact_lock_key(MARIA)) is None, "let go with the last look"
    assert take(rt, lock=True).outcome == inbox.EMPTY


def test_a_message_taken_again_counts_its_tries_and_asked_to_stop_the_take_lets_go(rt) -> None:
    arrive(rt, "wamid.one", int(time.time()))
    assert take(rt, lock=True).head.tries == 1  # type: ignore[union-attr]
    assert take(rt, more=False).outcome == inbox.STOPPED
    assert rt.redis.get(keyspace.contact_lock_key(MARIA)) is None
    again = take(rt, lock=True)  # the worker before it died, or let go: one more try
    assert again.head is not None and (again.head.message_id, again.head.tries) == ("wamid.one", 2)


def test_only_the_retry_the_backoff_names_takes_the_contact(rt) -> None:
    arrive(rt, "wamid.one", int(time.time()))
    rt.redis.set(keyspace.retry_key(MARIA), "r2")
    assert take(rt, lock=True).outcome == inbox.BACKING_OFF
    assert take(rt, lock=True, retry="r1").outcome == inbox.BACKING_OFF, "an older retry is stale"
    assert take(rt, lock=True, retry="r2").outcome == inbox.HEAD
    assert rt.redis.get(keyspace.retry_key(MARIA)) is None, "the backoff is over"


def test_a_parked_message_put_back_takes_its_place_by_its_own_time(rt) -> None:
    now = int(time.time())
    arrive(rt, "wamid.waiting", now)
    parked = {"id": "wamid.parked", "sender": MARIA, "timestamp": now - 30, "type": "text", "text": "can do 3/12"}
    inbox.requeue(rt, parked)
    same_second = {**parked, "id": "wamid.same.second", "timestamp": now}
    inbox.requeue(rt, same_second)
    order, stored = [], {}
    done = None
    while (head := take(rt, lock=done is None, done=done).head) is not None:
        order.append(head.message_id)
        stored[head.message_id] = json.loads(head.raw or b"null")
        assert head.tries == 1, "a message put back starts its tries again"
        done = head.message_id
    assert order == ["wamid.parked", "wamid.same.second", "wamid.waiting"]
    assert stored["wamid.parked"] == parked, "as it was parked"


def test_a_round_trip_of_many_contacts_marks_each_ready_and_waiting_once(rt) -> None:
    """One group commit can carry more contacts than one variadic call takes (app.scripts.WAKE
    goes 500 at a time): every contact is ready for a drainer and counted as waiting, once."""
    now = int(time.time())
    contacts = [f"4477009{n:05d}" for n in range(1201)]
    batches = [[InboundMessage(id=f"wamid.many.{c}", sender=c, timestamp=now, type="text", text="received")]
               for c in contacts]
    assert ingest.record_messages(rt, None, batches + batches[:3]) == [[scripts.NEW]] * 1201 + [[2]] * 3
    assert rt.redis.zcard(keyspace.READY_CONTACTS) == 1201
    assert rt.redis.smembers(keyspace.PENDING_CONTACTS) == {c.encode() for c in contacts}
