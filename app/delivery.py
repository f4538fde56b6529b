"""Following each sent message until it is read or has failed: what it was for, its furthest
status (sent < delivered < read; failed is final, with Meta's code and reason), and per
notification or broadcast, how many messages reached each status.

Statuses arrive out of order and sometimes before the send is recorded; each step is one atomic
script on the message's own key, so counts move once per message and never backwards.
"""
from __future__ import annotations

import json
import time
from typing import Any, TypedDict

from app import jsonsafe, keyspace, queues, runtime, scripts
from app.events import types
from app.runtime import Runtime

class Sent(TypedDict):
    """What a send carried, kept with its message so that a later failure can send it again."""

    payload: dict[str, Any]
    fallback: dict[str, Any] | None


RANKS = {"sent": 1, "delivered": 2, "read": 3, "played": 4, "failed": 5}
COUNTED = ("delivered", "read")  # "sent" is counted when Meta takes the message; "failed" apart
FAILED = RANKS["failed"]


def purpose_of(key: str) -> str:
    """What a send was for, from its idempotency key: "event:<id>" for notifications, else "reply"."""
    parts = key.split(":")
    return f"{parts[0]}:{parts[1]}" if parts[0] in ("event", "reminder") and len(parts) > 2 else "reply"


def event_id_of(purpose: str) -> str | None:
    """The Trading Grid event a notification's or reminder's purpose names; None for a reply."""
    return None if purpose == "reply" else purpose.split(":", 1)[1]


def stored_event(rt: Runtime, purpose: str) -> types.Event | None:
    """The event a purpose names, typed, while it is kept (30 days)."""
    event_id = event_id_of(purpose)
    raw = rt.redis.hget(keyspace.event_key(event_id), "payload") if event_id else None
    return types.parse(json.loads(raw)) if raw else None


def _reached(previous: int, rank: int) -> list[str]:
    if rank == FAILED:
        return ["failed"]
    return [s for s in COUNTED if previous < min(RANKS[s], 3) <= min(rank, 3)]


def record_sent(rt: Runtime, wamid: str, key: str, sent: Sent) -> None:
    """Notes what a sent message was for and counts it as sent, in one round trip; statuses that
    arrived before this record are counted then."""
    sent_recorded(rt, key, scripts.run(rt.redis, lambda pipe: queue_sent(pipe, wamid, key, sent)))


def queue_sent(pipe: Any, wamid: str, key: str, sent: Sent) -> None:
    """Queues on `pipe` what `record_sent` writes; `sent_recorded` reads the answers."""
    purpose = purpose_of(key)
    scripts.evalsha(pipe, scripts.RECORD_SENT, [keyspace.message_key(wamid)],
                    [purpose, keyspace.STATUS_TTL, key, jsonsafe.dumps(sent)])
    pipe.hincrby(keyspace.stats_key(purpose), "sent", 1)
    pipe.expire(keyspace.stats_key(purpose), keyspace.STATUS_TTL)
    if purpose != "reply":
        pipe.zadd(keyspace.NOTIFICATIONS_INDEX, {purpose: time.time()}, nx=True)


def sent_recorded(rt: Runtime, key: str, answers: list[Any]) -> None:
    """Counts the statuses that arrived before the record `queue_sent` wrote (answers: from its first command)."""
    rank = int(answers[0])
    if rank:
        _count(rt, purpose_of(key), _reached(0, rank))


def count_refused(rt: Runtime, key: str) -> None:
    """Meta refused the send outright: it counts as failed for its notification."""
    _count(rt, purpose_of(key), ["failed"])


def apply(rt: Runtime, status: dict[str, Any]) -> None:
    rank = RANKS.get(status["status"])
    if rank is None:
        return
    error = status["errors"][0] if status.get("errors") else {}
    purpose, previous = scripts.call(
        rt.redis, scripts.APPLY_STATUS, [keyspace.message_key(status["message_id"])],
        [status["status"], rank, status["timestamp"], str(error.get("code", "")), str(error.get("title", ""))[:200],
         keyspace.STATUS_TTL])
    purpose = purpose.decode() if isinstance(purpose, bytes) else purpose
    if purpose and status.get("billable"):
        _bill(rt, status["message_id"], purpose, str(status.get("category") or "unknown"), int(status["timestamp"]))
    if purpose and int(previous) >= 0:
        _count(rt, purpose, _reached(int(previous), rank))
        if rank == FAILED:
            _failed_later(rt, status["message_id"], error)


def _bill(rt: Runtime, wamid: str, purpose: str, category: str, at: int) -> None:
    """Counts a billable message once (each of its statuses carries the same pricing), by the
    month Meta priced it in, what it was for (a reply, or the notice's event type) and Meta's category."""
    if not rt.redis.hsetnx(keyspace.message_key(wamid), "billed", 1):
        return
    event = stored_event(rt, purpose)
    kind = "reply" if purpose == "reply" else event.type if event is not None else "notification"
    month = time.strftime("%Y-%m", time.gmtime(at or time.time()))
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hincrby(keyspace.billing_key(month), f"{kind}|{category.lower()}", 1)
    pipe.expire(keyspace.billing_key(month), keyspace.BILLING_TTL)
    pipe.execute()


def billed(rt: Runtime, month: str) -> list[dict[str, Any]]:
    """Billable messages in `month` (YYYY-MM), by what they were for and category, most first."""
    counts = rt.redis.hgetall(keyspace.billing_key(month))
    rows = [{"kind": k.decode().split("|")[0], "category": k.decode().split("|")[1], "messages": int(v)}
            for k, v in counts.items()]
    return sorted(rows, key=lambda r: (-r["messages"], r["kind"]))


def _failed_later(rt: Runtime, wamid: str, error: dict[str, Any]) -> None:
    """Meta took the message and failed it afterwards: what the send's answer would have led to
    (app.send_failures) follows from the status alike, with what was sent."""
    record = rt.redis.hmget(keyspace.message_key(wamid), "key", "sent")
    if not record[0] or not record[1]:
        return  # sent before messages kept what they were: counted as failed, as then
    sent = json.loads(record[1])
    rt.queues.enqueue(queues.OUTBOUND, queues.SEND_FAILED, sent["payload"], record[0].decode(), sent.get("fallback"),
                      failure(error))


def failure(error: dict[str, Any]) -> dict[str, Any]:
    """Meta's error, as the failure handling reads it: code, title, details."""
    details = error.get("error_data", {}).get("details") if isinstance(error.get("error_data"), dict) else None
    code = error.get("code")
    return {"code": code if isinstance(code, int) else None, "title": str(error.get("title") or error.get("message") or ""),
            "details": str(details or "")}


def _count(rt: Runtime, purpose: str, statuses: list[str]) -> None:
    if not statuses:
        return
    pipe = rt.redis.pipeline(transaction=False)
    for status in statuses:
        pipe.hincrby(keyspace.stats_key(purpose), status, 1)
    pipe.expire(keyspace.stats_key(purpose), keyspace.STATUS_TTL)
    pipe.execute()


def stats(rt: Runtime, purpose: str) -> dict[str, int]:
    raw = rt.redis.hgetall(keyspace.stats_key(purpose))
    counts = {k.decode(): int(v) for k, v in raw.items()}
    return {s: counts.get(s, 0) for s in ("sent", "delivered", "read", "failed")}


def status_of(rt: Runtime, wamid: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in rt.redis.hgetall(keyspace.message_key(wamid)).items()}


def apply_statuses(statuses: list[dict[str, Any]]) -> None:
    """A job: keeps each sent message's furthest status and its notification's counts."""
    rt = runtime.current()
    for status in statuses:
        apply(rt, status)
