"""Durable recording of what arrives, before the webhook answers: dedupe and storage in one
atomic step per item, then work for the workers. Raises redis.RedisError when the store is down,
which the webhooks turn into 503 so the sender delivers again."""
from __future__ import annotations

import json
from typing import Any

from app import jobs, metrics, store
from app.queues import EVENTS, INBOUND, OUTBOUND
from app.runtime import Runtime
from app.whatsapp.inbound import Notification


def record_whatsapp(rt: Runtime, note: Notification) -> int:
    """Records every new message and status, and queues the work, in one round trip to Redis;
    returns how many messages were new. (A message seen before still queues its contact's drain,
    which finds nothing to do if it was handled: cheaper than asking first.)"""
    script = rt.redis.register_script(store.RECORD_INBOUND)
    pipe = rt.redis.pipeline()
    pipe.multi()  # RQ's enqueue with a pipeline wants one that is already a transaction
    for message in note.messages:
        script(keys=[store.seen_key(message.sender, message.id), store.inbox_key(message.sender),
                     store.inbox_messages_key(message.sender), store.sequence_key(message.sender)],
               args=[message.id, message.timestamp, message.to_json(), store.INBOUND_DEDUPE_TTL,
                     store.ARRIVALS_PER_SECOND], client=pipe)
    contacts = list(dict.fromkeys(m.sender for m in note.messages))
    if contacts:
        pipe.sadd(store.PENDING_CONTACTS, *contacts)
    for contact in contacts:
        rt.queues.enqueue(INBOUND, jobs.drain_contact, contact, pipeline=pipe)
    if note.statuses:
        rt.queues.enqueue(OUTBOUND, jobs.apply_statuses, [s.to_dict() for s in note.statuses], pipeline=pipe)
    if not (note.messages or note.statuses):
        return 0
    outcomes = pipe.execute()[:len(note.messages)]
    for message, outcome in zip(note.messages, outcomes):
        if outcome == store.NEW:
            metrics.MESSAGES_IN.labels(message.type).inc()
        else:
            metrics.DEDUPE_HITS.labels("whatsapp").inc()
    for status in note.statuses:
        metrics.STATUSES_IN.labels(status.status).inc()
    return sum(1 for outcome in outcomes if outcome == store.NEW)


def record_event(rt: Runtime, event: dict[str, Any]) -> bool:
    """True when the event is new. A duplicate still pending gets its job again (it may be lost)."""
    script = rt.redis.register_script(store.RECORD_EVENT)
    outcome = script(keys=[store.event_key(event["id"])],
                     args=[json.dumps(event, ensure_ascii=False), store.EVENT_DEDUPE_TTL])
    if outcome != store.HANDLED_DUPLICATE:
        rt.queues.enqueue(EVENTS, jobs.handle_event, event["id"])
    if outcome == store.NEW:
        metrics.EVENTS_IN.labels(event["type"]).inc()
    else:
        metrics.DEDUPE_HITS.labels("tradinggrid").inc()
    return outcome == store.NEW
