"""A contact's inbox, step by step: recorded in order, taken one try at a time, put back by a
person from the parked list in its own place."""
from __future__ import annotations

import json
import time

from app import inbox, keyspace, scripts
from app.whatsapp.inbound import InboundMessage

MARIA = "14155550134"


def arrive(rt, message_id: str, timestamp: int) -> None:  # type: ignore[no-untyped-def]
    message = InboundMessage(id=message_id, sender=MARIA, timestamp=timestamp, type="text", text=message_id)
    assert scripts.run(rt.redis, lambda pipe: inbox.record(pipe, [message])) == [[scripts.NEW]]


def test_messages_are_taken_in_whatsapp_time_and_a_look_is_not_a_try(rt) -> None:
    now = int(time.time())
    arrive(rt, "wamid.later", now)
    arrive(rt, "wamid.earlier", now - 60)
    head = inbox.head(rt, MARIA)
    assert head is not None and (head.message_id, head.tries) == ("wamid.earlier", 1)
    inbox.put_back(rt, MARIA, head.message_id)
    again = inbox.head(rt, MARIA)
    assert again is not None and (again.message_id, again.tries) == ("wamid.earlier", 1)
    inbox.done(rt, MARIA, "wamid.earlier")
    last = inbox.head(rt, MARIA)
    assert last is not None and last.message_id == "wamid.later"
    inbox.done(rt, MARIA, "wamid.later")
    assert inbox.head(rt, MARIA) is None
    assert not rt.redis.sismember(keyspace.PENDING_CONTACTS, MARIA)


def test_a_parked_message_put_back_takes_its_place_by_its_own_time(rt) -> None:
    now = int(time.time())
    arrive(rt, "wamid.waiting", now)
    parked = {"id": "wamid.parked", "sender": MARIA, "timestamp": now - 30, "type": "text", "text": "can do 3/12"}
    inbox.requeue(rt, parked)
    same_second = {**parked, "id": "wamid.same.second", "timestamp": now}
    inbox.requeue(rt, same_second)
    order, stored = [], {}
    while (head := inbox.head(rt, MARIA)) is not None:
        order.append(head.message_id)
        stored[head.message_id] = json.loads(head.raw or b"null")
        assert head.tries == 1, "a message put back starts its tries again"
        inbox.done(rt, MARIA, head.message_id)
    assert order == ["wamid.parked", "wamid.same.second", "wamid.waiting"]
    assert stored["wamid.parked"] == parked, "as it was parked"
