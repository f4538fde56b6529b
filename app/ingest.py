"""Durable recording of what arrives, before the webhook answers: dedupe and storage in one
atomic step per item, then work for the workers. Raises redis.RedisError when the store is down,
which the webhooks turn into 503 so the sender delivers again."""
from __future__ import annotations

import json
from typing import Any

from app import jobs, metrics, ready, store
from app.queues import EVENTS, OUTBOUND
from app.runtime import Runtime
from app.whatsapp.inbound import Notification


def record_whatsapp(rt: Runtime, note: Notification) -> int:
    """Records every new message and status; returns how many messages were new.

    One pipelined round trip records and dedupes each message (one script per message, on its
    contact's keys) and marks its contact ready for a drainer (app.ready). Only when no drainer
    is on the work does a second trip queue one."""
    contacts = list(dict.fromkeys(message.sender for message in note.messages))

    def build(pipe: Any) -> None:
        for message in note.messages:
            store.evalsha(pipe, store.RECORD_INBOUND,
                          [store.seen_key(message.sender, message.id), store.inbox_key(message.sender),
                           store.inbox_messages_key(message.sender)],
                          [message.id, message.timestamp, message.to_json(), store.INBOUND_DEDUPE_TTL,
                           store.ARRIVALS_PER_SECOND])
        if contacts:
            ready.mark(pipe, rt, contacts)

    answers = store.run(rt.redis, build) if note.messages else []
    outcomes = answers[:len(note.messages)]
    for message, outcome in zip(note.messages, outcomes):
        if outcome == store.NEW:
            metrics.MESSAGES_IN.labels(message.type).inc()
        else:
            metrics.DEDUPE_HITS.labels("whatsapp").inc()
    if contacts:
        ready.start_drainer(rt, answers[-1])
    if note.statuses:
        for status in note.statuses:
            metrics.STATUSES_IN.labels(status.status).inc()
        rt.queues.enqueue(OUTBOUND, jobs.apply_statuses, [s.to_dict() for s in note.statuses])
    return sum(1 for outcome in outcomes if outcome == store.NEW)


def record_event(rt: Runtime, event: dict[str, Any]) -> bool:
    """True when the event is new. A duplicate still pending gets its job again (it may be lost)."""
    outcome = store.call(rt.redis, store.RECORD_EVENT, [store.event_key(event["id"])],
                         [json.dumps(event, ensure_ascii=False), store.EVENT_DEDUPE_TTL])
    if outcome != store.HANDLED_DUPLICATE:
        rt.queues.enqueue(EVENTS, jobs.handle_event, event["id"])
    if outcome == store.NEW:
        metrics.EVENTS_IN.labels(event["type"]).inc()
    else:
        metrics.DEDUPE_HITS.labels("tradinggrid").inc()
    return outcome == store.NEW
