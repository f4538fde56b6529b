"""Draining a contact's inbox: its waiting messages handed to the conversations one at a time,
in WhatsApp-timestamp order, under a lock every worker respects; by drainer jobs that take ready
contacts (app.ready) and, for a retry or a flood's next turn, by a job per contact."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import LockError, RedisError

from app import (inbox, keeper, keyspace, metrics, outbound, pace, parked, queues, ready, redisline, runtime, scripts,
                 sendahead, writebehind)
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
    messages, until none is left (for LINGER_SECONDS) or its turn is over; then a successor
    carries on. Returns how many messages it handled.

    A passing failure with one contact (Trading Grid or Redis) does not hold up the others: that
    contact gets a job of its own, retried with backoff from where it stopped."""
    rt = runtime.current()
    until = time.monotonic() + ready.TURN_SECONDS
    # In a worker process, a drainer with nothing left waits a moment for the next message (the
    # embedded worker's thread has the keeper's work to do between jobs).
    linger = 0.0 if rt.settings.embedded else ready.LINGER_SECONDS
    handled, emptied, lingered = 0, None, False
    try:
        while time.monotonic() < until:
            contact, wait = ready.next_contact(rt.redis, token, emptied, linger=linger > 0 and not lingered)
            emptied = None
            if contact is None and wait is None:
                return handled  # nothing left, and the lease went with the last look
            if wait == ready.LINGER:  # unless other work waits for this worker; then once more, to let go
                left = until - time.monotonic()
                lingered = left <= 0 or rt.queues.waiting() or not ready.nudged(rt.redis, min(linger, left))
                continue
            lingered = False
            if contact is None:
                time.sleep(min(wait or 0.0, ready.LOCKED_RETRY_SECONDS))
                continue
            try:
                count, left_empty = _drain(rt, contact)
                handled += count
                emptied = contact if left_empty else None
            except Exception as exc:  # noqa: BLE001 - sorted by `passing` just below
                if not queues.passing(exc):
                    raise
                log.warning("contact %s: %s; retried with backoff", contact, type(exc).__name__)
                rt.queues.enqueue_at(queues.INBOUND, time.time() + queues.BACKOFF[0], drain_contact, contact,
                                     job_id=f"drain-retry-{contact}")
    except BaseException:
        with contextlib.suppress(RedisError):
            ready.let_go(rt.redis, token)  # its lease must not keep a successor away
        raise
    ready.hand_over(rt, token)
    return handled


def drain_contact(contact: str, retry: str | None = None) -> int:
    """One contact's waiting messages, as a job of its own (a flood's later turn, or with `retry`
    the retry after a passing failure that `_back_off` scheduled). Returns how many it handled.
    (An inbox it leaves empty stays among the pending contacts until the sweep sees it empty.)"""
    return _drain(runtime.current(), contact, retry=retry)[0]


@dataclasses.dataclass
class _Step:
    taken: inbox.Taken
    ahead: router.Ahead
    prepared: sendahead.Prepared | None = None  # for the sends of the head's turn


def _step(rt: Any, contact: str, token: str, *, lock: bool, retry: str | None = None, done: str | None = None,
          more: bool = True, pending: writebehind.Pending | None = None, expect: bool = True) -> _Step:
    """One round trip on the contact: what the turn before left to write (`pending`, kept only
    if it succeeded, as it did when it comes here), the message it handled (`done`) out of the
    inbox, and the next one taken, with what answering it needs read beside it and, when a
    message is to be expected (`expect`), the deployment's moment for its reply."""
    settle: Callable[[list[Any]], None] | None = None
    ahead: Callable[[list[Any]], router.Ahead] | None = None
    first, slot = 0, more and expect

    def build(pipe: Any) -> None:
        nonlocal settle, ahead, first
        if pending is not None:
            settle = pending.queue(pipe, succeeded=True)
        first = writebehind.length(pipe)
        inbox.take(pipe, contact, token, lock=lock, retry=retry, done=done, more=more)
        ahead = router.read_ahead(pipe, contact)
        if slot:
            pace.queue_global_slot(pipe, rt)

    try:
        answers = scripts.run(rt.redis, build, redisline.for_thread(rt.redis))
    except RedisError:
        if pending is not None:  # the records of replies that left must stay, whatever Redis does
            _keep(rt, pending)
        raise
    received = time.monotonic()
    if settle is not None:
        settle(answers)
    assert ahead is not None
    taken = inbox.taken(answers[first])
    prepared = None
    if taken.head is not None:
        prepared = sendahead.prepare(rt, contact, taken.head, answers[first + 3] if slot else None, received)
    return _Step(taken, ahead(answers[first + 1:first + 3]), prepared)


def _keep(rt: Any, pending: writebehind.Pending) -> None:
    """What a turn must keep though it failed (the records of replies that left), patiently."""
    if pending.must_keep:
        outbound.patiently(lambda: scripts.run(rt.redis, lambda pipe: pending.queue(pipe, succeeded=False)),
                           "a failed turn's sends could not be recorded")


def _drain(rt: Any, contact: str, retry: str | None = None) -> tuple[int, bool]:
    """Handles the contact's waiting messages one at a time in WhatsApp-timestamp order, under a
    lock every worker on every machine respects; returns how many it handled, and whether it
    left the inbox empty. A message answered costs two round trips to Redis of its own (besides
    its sends): one takes it with the lock and everything its answer reads, one saves everything
    its answer wrote and takes the next (app.writebehind); and one read receipt for all it handled.

    Fair to everyone else: after MAX_PER_TURN messages the contact goes to the back of the ready
    list, and a number that writes faster than a person can (app.pace.SENDER_*) waits its turn,
    told once. A passing failure (Trading Grid, Graph, Redis) leaves the message at the head of the
    inbox for a retry job after a backoff that grows with its tries (until then, messages arriving
    behind it wait instead of trying it again), MAX_TRIES times at most; any other failure parks
    that message at once, so the contact's next messages are never held up by one that cannot be
    handled."""
    started = time.monotonic()
    token = secrets.token_hex(8)
    step = _step(rt, contact, token, lock=True, retry=retry)
    if step.taken.outcome == inbox.BACKING_OFF:
        return 0, False  # the retry job scheduled last takes it (an older one is stale)
    if step.taken.outcome == inbox.LOCKED:
        # Another worker holds the contact and looks at the inbox again before it lets go; in
        # case it just did, this contact is looked at again shortly rather than left behind.
        ready.wake(rt, [contact], delay=ready.LOCKED_RETRY_SECONDS)
        return 0, False
    # Not thread-local: this process's keeper extends it while the contact is held (app.keeper).
    lock = rt.redis.lock(keyspace.contact_lock_key(contact), timeout=keyspace.CONTACT_LOCK_TTL, thread_local=False)
    lock.local.token = token.encode()
    handled, extended, seen = 0, time.monotonic(), None
    with keeper.hold(lock):
        try:
            while step.taken.head is not None:
                head, prepared = step.taken.head, step.prepared
                assert prepared is not None
                with writebehind.deferring() as pending, sendahead.preparing(prepared):
                    answered = _handle(rt, contact, head, step.ahead, pending)
                if answered is None:
                    break  # backing off: the lock is let go below
                pending.add(prepared.give_back)  # the moments reserved ahead that no send took
                seen = head.message_id if answered else seen
                handled += 1
                if time.monotonic() - extended > keyspace.CONTACT_LOCK_TTL / 3:
                    try:
                        lock.extend(keyspace.CONTACT_LOCK_TTL, replace_ttl=True)
                    except LockError:  # lapsed: its turn is not saved, but what left must stay known
                        _keep(rt, pending)
                        raise
                    extended = time.monotonic()
                step = _step(rt, contact, token, lock=False, done=head.message_id, more=handled < MAX_PER_TURN,
                             pending=pending, expect=head.behind > 0)
            if step.taken.outcome == inbox.STOPPED:
                ready.wake(rt, [contact])
            elif step.taken.outcome == inbox.WAIT:
                _slow_down(rt, contact, step.taken.wait)
        finally:
            if step.taken.head is not None:  # stopped inside a turn: the take still holds the lock
                try:
                    lock.release()
                except LockError:
                    log.warning("lock of contact %s expired while draining", contact)
        if seen is not None:
            router.mark_read(rt, seen)  # after the answers, which the person is waiting for
    metrics.labelled(metrics.JOB_LATENCY, "drain_contact").observe(time.monotonic() - started)
    return handled, step.taken.outcome == inbox.EMPTY


def _handle(rt: Any, contact: str, head: inbox.Head, ahead: router.Ahead, pending: writebehind.Pending) -> bool | None:
    """One message of the contact's: True when answered (and to be marked read), False when it
    was handled otherwise (parked, or nothing to answer), None when a passing failure stopped it
    (backing off, scheduled by `_back_off`)."""
    if not head.raw:
        return False
    if head.tries > MAX_TRIES:
        _give_up(rt, json.loads(head.raw), head.why or "its handling never finished (the worker stopped)",
                 tries=head.tries - 1)
        return False
    try:
        return router.handle(rt, InboundMessage.from_json(head.raw), ahead)
    except Exception as exc:  # noqa: BLE001 - one bad message must not block the contact
        _keep(rt, pending)
        if queues.passing(exc):  # left at the head of the inbox for the retry
            _back_off(rt, contact, head.message_id, head.tries, exc)
            return None
        log.warning("message %s could not be handled (%s); parked", head.message_id, _reason(exc), exc_info=True)
        _give_up(rt, json.loads(head.raw), _reason(exc))
        return False


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
