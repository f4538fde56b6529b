"""Sending a message once: each logical send has an idempotency key whose record is written
before the message leaves and holds its wamid after, so a retried job never sends it twice."""
from __future__ import annotations

import logging
import time
from typing import Any

from redis.exceptions import RedisError

from app import delivery, metrics, pace, parked, store
from app.runtime import Runtime
from app.whatsapp import errors

log = logging.getLogger(__name__)
SENDING = b"sending"
RECORD_PATIENCE_SECONDS = 30


def send_now(rt: Runtime, payload: dict[str, Any], key: str,
             fallback: dict[str, Any] | None = None) -> str | None:
    """Sends unless already sent; returns the wamid. Retryable GraphErrors propagate; a permanent
    refusal is parked with Meta's reason and returns None. `fallback` (a template) is sent instead
    when Meta says the 24-hour window closed after all (131047)."""
    recipient = str(payload.get("to", ""))
    record = store.outbound_key(recipient, key)
    claimed = pace.claim(rt, recipient, record, SENDING, store.OUTBOUND_RECORD_TTL)
    if isinstance(claimed, str):
        return claimed  # sent before: this is a retry
    # The claim must survive a failover before the message leaves, or a replayed turn sends it twice.
    store.replicated(rt.redis, [record], rt.settings.redis_wait_replicas, rt.settings.redis_wait_timeout_ms)
    if claimed > 0:
        time.sleep(claimed)  # Meta's pair limit for this recipient
    pace.wait_for_slot(rt)  # the deployment-wide rate
    try:
        try:
            wamid = rt.whatsapp.send(payload)
        except errors.WindowClosed:
            if fallback is None:
                raise
            log.info("send %s: window closed after all, sending the template", key)
            payload = fallback
            wamid = rt.whatsapp.send(payload)
    except errors.GraphError as exc:
        if exc.retryable:
            raise
        log.warning("send %s refused by Meta: %s", key, exc)
        rt.redis.set(record, f"failed:{exc.code}", ex=store.OUTBOUND_RECORD_TTL)
        delivery.count_refused(rt, key)
        parked.park(rt.redis, "send", str(exc), {"payload": payload, "key": key})
        return None
    _record(rt, wamid, key, record)
    metrics.MESSAGES_OUT.labels(payload.get("type", "unknown")).inc()
    return wamid


def _record(rt: Runtime, wamid: str, key: str, record: str) -> None:
    """Notes that the message left. It did, whatever Redis does now: were this to fail and the
    turn be retried, the message would go out twice; so a Redis that is away (restarting, failing
    over) is waited for, up to RECORD_PATIENCE_SECONDS, before the failure is given up to the caller."""
    deadline, pause = time.monotonic() + RECORD_PATIENCE_SECONDS, 0.1
    while True:
        try:
            delivery.record_sent(rt, wamid, key, before=lambda pipe: pipe.set(record, wamid, ex=store.OUTBOUND_RECORD_TTL))
            return
        except RedisError as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("send %s left as %s but could not be recorded (%s); trying again", key, wamid,
                        type(exc).__name__)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def deliver(rt: Runtime, payload: dict[str, Any], key: str, fallback: dict[str, Any] | None = None) -> str | None:
    """Sends now, in order with the caller's other sends; on a passing failure a job retries it."""
    from app import jobs
    from app.queues import OUTBOUND

    try:
        return send_now(rt, payload, key, fallback)
    except errors.GraphError as exc:
        log.info("send %s failed (%s); retrying in the background", key, exc)
        rt.queues.enqueue(OUTBOUND, jobs.send_message, payload, key, fallback)
        return None
