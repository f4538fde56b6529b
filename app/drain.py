"""Draining a contact's inbox: its waiting messages handed to the conversations one at a time,
in WhatsApp-timestamp order, under a lock every worker respects; by drainer jobs that take ready
contacts (app.ready) and, for a retry or a flood's next turn, by a job per contact."""
from __future__ import annotations

import contextlib
import json
import logging
import random
import secrets
import time
from typing import Any

from redis.exceptions import LockError, RedisError

from app import inbox, keeper, keyspace, metrics, outbound, pace, parked, queues, ready, runtime
from app.whatsapp import messages
from app.whatsapp.inbound import InboundMessage
from conversations import router, say

log = logging.getLogger(__name__)
MAX_PER_TURN = 20  # messages a drain handles before it lets other contacts' work go first
# A message taken this often and never handled (passing failures all along, about 20 minutes of
# backoff, or a worker that died each time) is parked with its last reason.
MAX_TRIES = 10
RETRY_GRACE_SECONDS = 30  # how late a scheduled retry may start before the sweep takes its place


def drain_ready(token: int) -> int:
    """A drainer (app.ready): takes ready contacts one at a time and handles each one's waiting
    messages, until none is left or its turn is over; then a successor carries on. Returns how
    many messages it handled.

    A passing failure with one contact (Trading Grid or Redis) does not hold up the others: that
    contact gets a job of its own, retried with backoff from where it stopped."""
    rt = runtime.current()
    until = time.monotonic() + ready.TURN_SECONDS
    handled = 0
    try:
        while time.monotonic() < until:
            contact, wait = ready.next_contact(rt.redis, token)
            if contact is None and wait is None:
                return handled  # nothing left, and the lease went with the last look
            if contact is None:
                time.sleep(min(wait or 0.0, ready.LOCKED_RETRY_SECONDS))
                continue
            try:
                handled += _drain(rt, contact)
            except Exception as exc:  # noqa: BLE001 - sorted by `passing` just below
                if not queues.passing(exc):
                    raise
                log.warning("contact %s: %s; retried with backoff", contact, type(exc).__name__)
                rt.queues.enqueue_at(queues.INBOUND, time.time() + queues.BACKOFF[0], drain_contact, contact,
                                     job_id=f"drain-retry-{contact}")
    except BaseException:
        with contextlib.suppress(RedisError):
            rt.redis.zrem(keyspace.DRAINERS, token)  # its lease must not keep a successor away
        raise
    ready.hand_over(rt, token)
    return handled


def drain_contact(contact: str, retry: str | None = None) -> int:
    """One contact's waiting messages, as a job of its own (a flood's later turn, or with `retry`
    the retry after a passing failure that `_back_off` scheduled). Returns how many it handled."""
    return _drain(runtime.current(), contact, retry=retry)


def _drain(rt: Any, contact: str, retry: str | None = None) -> int:
    """Handles the contact's waiting messages one at a time in WhatsApp-timestamp order, under a
    lock every worker on every machine respects.

    Fair to everyone else: after MAX_PER_TURN messages the contact goes to the back of the ready
    list, and a number that writes faster than a person can (app.pace.SENDER_*) waits its turn,
    told once. A passing failure (Trading Grid, Graph, Redis) leaves the message at the head of the
    inbox for a retry job after a backoff that grows with its tries (until then, messages arriving
    behind it wait instead of trying it again), MAX_TRIES times at most; any other failure parks
    that message at once, so the contact's next messages are never held up by one that cannot be
    handled."""
    backing_off = rt.redis.get(keyspace.retry_key(contact))
    if backing_off is not None:
        if retry is None or backing_off.decode() != retry:
            return 0  # backing off: the retry job scheduled last takes it (an older one is stale)
        rt.redis.delete(keyspace.retry_key(contact))  # this is that retry: the backoff is over
    started = time.monotonic()
    # Not thread-local: this process's keeper extends it while the contact is held (app.keeper).
    lock = rt.redis.lock(keyspace.contact_lock_key(contact), timeout=keyspace.CONTACT_LOCK_TTL, thread_local=False)
    if not lock.acquire(blocking=False):
        # Another worker holds the contact and looks at the inbox again before it lets go; in
        # case it just did, this contact is looked at again shortly rather than left behind.
        ready.wake(rt, [contact], delay=ready.LOCKED_RETRY_SECONDS)
        return 0
    handled, extended = 0, time.monotonic()
    with keeper.hold(lock):
        try:
            while (head := inbox.head(rt, contact)) is not None:
                message_id = head.message_id
                if handled >= MAX_PER_TURN:
                    inbox.put_back(rt, contact, message_id)
                    ready.wake(rt, [contact])
                    break
                wait = pace.sender_wait(rt, contact)
                if wait > 0:
                    inbox.put_back(rt, contact, message_id)
                    _slow_down(rt, contact, wait)
                    break
                if head.raw and head.tries > MAX_TRIES:
                    _give_up(rt, json.loads(head.raw), head.why or "its handling never finished (the worker stopped)",
                             tries=head.tries - 1)
                elif head.raw:
                    message = InboundMessage.from_json(head.raw)
                    try:
                        router.handle(rt, message)
                    except Exception as exc:  # noqa: BLE001 - one bad message must not block the contact
                        if queues.passing(exc):  # left at the head of the inbox for the retry
                            _back_off(rt, contact, message_id, head.tries, exc)
                            break
                        log.warning("message %s could not be handled (%s); parked", message_id, _reason(exc),
                                    exc_info=True)
                        _give_up(rt, json.loads(head.raw), _reason(exc))
                inbox.done(rt, contact, message_id)
                handled += 1
                if time.monotonic() - extended > keyspace.CONTACT_LOCK_TTL / 3:
                    lock.extend(keyspace.CONTACT_LOCK_TTL, replace_ttl=True)
                    extended = time.monotonic()
        finally:
            try:
                lock.release()
            except LockError:
                log.warning("lock of contact %s expired while draining", contact)
    metrics.JOB_LATENCY.labels("drain_contact").observe(time.monotonic() - started)
    return handled


def _back_off(rt: Any, contact: str, message_id: str, tries: int, exc: Exception) -> None:
    """The contact's head met a passing failure on its `tries`th try: it is tried again after the
    backoff for that try (or when Trading Grid said), by a job of its own."""
    delay = queues.BACKOFF[min(tries, len(queues.BACKOFF)) - 1] * random.uniform(0.8, 1.2)
    delay = max(delay, getattr(exc, "retry_after", None) or 0)
    log.warning("contact %s: %s; try %d, again in %.0f s", contact, _reason(exc), tries, delay)
    # The retry key names the one job that may end the backoff. It outlives that job's time, so
    # messages arriving meanwhile wait for it rather than spend tries; should the job be lost,
    # the sweep finds the contact once the key is gone.
    token = secrets.token_hex(6)
    pipe = rt.redis.pipeline(transaction=False)
    inbox.stopped(pipe, contact, message_id, _reason(exc))
    pipe.set(keyspace.retry_key(contact), token, px=int((delay + RETRY_GRACE_SECONDS) * 1000))
    pipe.execute()
    rt.queues.enqueue_at(queues.INBOUND, time.time() + delay, drain_contact, contact, token,
                         job_id=f"drain-retry-{contact}-{token}")


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _give_up(rt: Any, message: dict[str, Any], reason: str, tries: int = 1) -> None:
    """Parks a message that cannot be handled, with its reason, and tells the person so: nothing
    they wrote vanishes without a word. (Its place in the inbox is freed by the caller.)"""
    if tries > 1:
        reason = f"gave up after {tries} tries: {reason}"
    parked.park(rt.redis, "inbound", reason, message)
    sender = str(message.get("sender", ""))
    person = rt.directory.person(sender)
    quoted = (message.get("text") or "").strip()
    body = say.text(person.language if person else "en", "message_parked" if quoted else "message_parked_untitled",
                    text=quoted[:200])
    outbound.deliver(rt, messages.text(sender, body, reply_to=str(message.get("id") or "") or None),
                     f"parked:{message.get('id')}")


def _slow_down(rt: Any, contact: str, wait: float) -> None:
    """A flood: the rest waits its turn (nothing is dropped) and the sender is told, once."""
    at = time.time() + wait
    rt.queues.enqueue_at(queues.INBOUND, at, drain_contact, contact, job_id=f"drain-later-{contact}-{int(at)}")
    if rt.redis.set(keyspace.slow_down_key(contact), 1, nx=True, ex=keyspace.SLOW_DOWN_NOTICE_SECONDS):
        person = rt.directory.person(contact)
        body = say.text(person.language if person else "en", "slow_down")
        outbound.deliver(rt, messages.text(contact, body), f"slowdown:{contact}:{int(time.time())}")
