"""The work RQ workers do. Each job takes plain JSON-able arguments and finds its services in
the process's runtime, built once at start-up, so a job neither imports nor connects per call."""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis.exceptions import LockError

from app import metrics, parked, runtime, store
from app.whatsapp.inbound import InboundMessage

log = logging.getLogger(__name__)
LOCK_WAIT_SECONDS = 5


def drain_contact(contact: str) -> int:
    """Handles the contact's waiting messages one at a time in WhatsApp-timestamp order, under a
    lock every worker on every machine respects. Returns how many it handled."""
    from conversations import router

    rt = runtime.current()
    started = time.monotonic()
    lock = rt.redis.lock(store.contact_lock_key(contact), timeout=store.CONTACT_LOCK_TTL,
                         blocking_timeout=LOCK_WAIT_SECONDS)
    if not lock.acquire():
        # Another worker holds the contact and will look at the inbox again before it lets go;
        # in case it just did, try again rather than risk leaving a message behind.
        from app.queues import INBOUND
        rt.queues.enqueue(INBOUND, drain_contact, contact)
        return 0
    handled = 0
    try:
        inbox, messages = store.inbox_key(contact), store.inbox_messages_key(contact)
        while True:
            head = rt.redis.zrange(inbox, 0, 0)
            if not head:
                break
            message_id = head[0]
            raw = rt.redis.hget(messages, message_id)
            if raw is not None:
                message = InboundMessage.from_json(raw)
                rt.redis.set(store.last_inbound_key(contact), message.timestamp, ex=store.WINDOW_SECONDS)
                try:
                    router.handle(rt, message)
                except Exception as exc:  # noqa: BLE001 - one bad message must not block the contact
                    log.exception("message %s could not be handled; parked", message.id)
                    parked.park(rt.redis, "inbound", f"{type(exc).__name__}: {exc}", json.loads(raw))
            pipe = rt.redis.pipeline()
            pipe.zrem(inbox, message_id)
            pipe.hdel(messages, message_id)
            pipe.execute()
            handled += 1
            lock.extend(store.CONTACT_LOCK_TTL, replace_ttl=True)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("lock of contact %s expired while draining", contact)
    metrics.JOB_LATENCY.labels("drain_contact").observe(time.monotonic() - started)
    return handled


def apply_statuses(statuses: list[dict[str, Any]]) -> None:
    """Keeps each sent message's furthest status and its notification's counts (app.delivery)."""
    from app import delivery

    rt = runtime.current()
    for status in statuses:
        delivery.apply(rt, status)


def handle_event(event_id: str) -> None:
    """Turns an accepted Trading Grid event into notifications, then marks it done."""
    from app import notifications

    rt = runtime.current()
    key = store.event_key(event_id)
    record = rt.redis.hgetall(key)
    if not record or record.get(b"state") != b"pending":
        return
    notifications.handle(rt, json.loads(record[b"payload"]))
    rt.redis.hset(key, "state", "done")


def send_notices(event_id: str, phones: list[str]) -> None:
    """One batch of a fanned-out event (a broadcast to many)."""
    from app import notifications

    rt = runtime.current()
    raw = rt.redis.hget(store.event_key(event_id), "payload")
    if raw is None:
        log.error("event %s is gone; %d recipients not told", event_id, len(phones))
        return
    notifications.send_to(rt, json.loads(raw), phones)


def send_message(payload: dict[str, Any], key: str, fallback: dict[str, Any] | None = None) -> str | None:
    from app import outbound

    return outbound.send_now(runtime.current(), payload, key, fallback)


WRITE_OPERATIONS = frozenset({"create_case", "update_case", "add_reference", "add_comment", "create_task",
                              "create_acknowledgment"})
WRITE_FAILED = ("Sorry, I couldn't save that in Trading Grid. Nothing is lost: a colleague has been "
                "told and will follow up with you.")


def tradinggrid_write(operation: str, args: list[Any], idempotency_key: str,
                      notify: str | None = None) -> dict[str, Any] | None:
    """One Trading Grid write. Passing failures raise, so RQ retries it with backoff under the same
    idempotency key; a refusal is parked for a person and `notify` (a wa_id) is told."""
    from app import outbound
    from app.tradinggrid.port import PermanentError
    from app.whatsapp import messages

    if operation not in WRITE_OPERATIONS:
        raise ValueError(f"not a Trading Grid write: {operation}")
    rt = runtime.current()
    try:
        return getattr(rt.tradinggrid, operation)(*args, idempotency_key=idempotency_key)
    except PermanentError as exc:
        log.warning("Trading Grid refused %s (%s); parked", operation, exc.reason)
        parked.park(rt.redis, "write", exc.reason, {"operation": operation, "args": args,
                                                    "idempotency_key": idempotency_key, "notify": notify})
        if notify:
            outbound.deliver(rt, messages.text(notify, WRITE_FAILED), f"parked:{idempotency_key}")
        return None
