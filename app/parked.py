"""The parked list: work that cannot succeed without a person (a permanent Trading Grid refusal,
a message whose handling failed), kept with its reason in Redis until retried or dropped, and
indexed by when it was parked so that a page of it costs the same however much is parked."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import redis

from app import inbox, jsonsafe, keyspace, queues
from app.whatsapp import messages


def park(connection: redis.Redis, kind: str, reason: str, payload: dict[str, Any], item_id: str | None = None) -> str:
    """Parks the work; parking again under the same `item_id` (a job run twice) is one item."""
    item_id = item_id or uuid.uuid4().hex[:12]
    now = time.time()
    record = {"id": item_id, "kind": kind, "reason": reason, "payload": payload, "parked_at": now}
    pipe = connection.pipeline(transaction=False)
    pipe.hset(keyspace.PARKED, item_id, jsonsafe.dumps(record))
    pipe.zadd(keyspace.PARKED_ORDER, {item_id: now})
    pipe.execute()
    return item_id


def count(connection: redis.Redis) -> int:
    return int(connection.hlen(keyspace.PARKED))


def items(connection: redis.Redis, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """Parked items, oldest first: all of them, or `limit` from `offset`."""
    if connection.zcard(keyspace.PARKED_ORDER) != connection.hlen(keyspace.PARKED):
        _reindex(connection)
    ids = connection.zrange(keyspace.PARKED_ORDER, offset, -1 if limit is None else offset + limit - 1)
    if not ids:
        return []
    return [json.loads(raw) for raw in connection.hmget(keyspace.PARKED, ids) if raw is not None]


def _reindex(connection: redis.Redis) -> None:
    """The index again from the items themselves (items parked before it existed)."""
    records = [json.loads(raw) for raw in connection.hvals(keyspace.PARKED)]
    pipe = connection.pipeline()
    pipe.delete(keyspace.PARKED_ORDER)
    if records:
        pipe.zadd(keyspace.PARKED_ORDER, {r["id"]: r["parked_at"] for r in records})
    pipe.execute()


def take(connection: redis.Redis, item_id: str) -> dict[str, Any] | None:
    """Removes and returns one item, for a retry; None when no such item is parked."""
    pipe = connection.pipeline()
    pipe.hget(keyspace.PARKED, item_id)
    pipe.hdel(keyspace.PARKED, item_id)
    pipe.zrem(keyspace.PARKED_ORDER, item_id)
    raw, _, _ = pipe.execute()
    return json.loads(raw) if raw else None


def retry(rt: Any, item_id: str) -> dict[str, Any] | None:
    """Puts a parked item back to work, as it was; returns it, or None when no such item is parked."""
    item = take(rt.redis, item_id)
    if item is None:
        return None
    payload = item["payload"]
    if item["kind"] == "write":
        rt.queues.enqueue(queues.WRITES, queues.WRITE, payload["operation"], payload["args"],
                          payload["idempotency_key"], payload.get("notify"), True)  # they were told once
    elif item["kind"] == "send":
        rt.redis.delete(keyspace.outbound_key(messages.address_of(payload["payload"]), payload["key"]))
        rt.queues.enqueue(queues.OUTBOUND, queues.SEND_MESSAGE, payload["payload"], payload["key"])
    else:  # an inbound message: back into its contact's inbox, handled in order with the others
        inbox.requeue(rt, payload)
    return item
