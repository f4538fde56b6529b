"""Sending a message once: each logical send has an idempotency key whose record is written
before the message leaves and holds its wamid after, so a retried job never sends it twice.

A record says one of: `sending:<when>` (claimed; the message may be on its way), `unsent` (it
did not leave: Meta answered that it did not take it, or Redis could not replicate the claim),
`left:<wamid>` (Meta's status for it came back, carrying the record's name as
`biz_opaque_callback_data`, before its sender could record it), `failed:<code>` (refused for
good), or the wamid. A worker killed between Meta taking a message and its record being written
leaves `sending`; the attempt after it waits a little for Meta's status instead of sending
again, since Graph's send call itself cannot deduplicate. A drain's turn sends its message's first
try unclaimed (app.sendahead says when that is safe, and what the try after one does)."""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from app import delivery, keyspace, metrics, pace, queues, redisline, runtime, scripts, sendahead, store, writebehind
from app.runtime import Runtime
from app.whatsapp import errors, messages
from app.whatsapp.inbound import StatusUpdate

log = logging.getLogger(__name__)
SENDING, LEFT, UNSENT = "sending:", "left:", "unsent"
CALLBACK_FIELD = "biz_opaque_callback_data"
RECORD_PATIENCE_SECONDS = 30
# Meta's statuses that make a record where there is none (one sent unclaimed, app.sendahead): not
# `read` or `played`, which come long after, when its record may have lapsed.
PROOF_OF_LEAVING = frozenset({"sent", "delivered", "failed"})


SETTLED, CLAIMED, IN_DOUBT = 0, 1, 2


def claim(rt: Runtime, recipient: str, record: str, doubt: float | None = None) -> tuple[str | float, float]:
    """The outcome of an earlier attempt when there was one (a wamid, `left:<wamid>`,
    `failed:<code>`); else the send is this attempt's, and the answer is the seconds until the
    recipient's pair limit lets it leave. An earlier claim that left no word is given until
    DOUBT_SECONDS after it for Meta's status to arrive, then taken over; so is no record at all
    when an attempt that sent unclaimed took the message at `doubt` (app.sendahead). Beside it,
    in the same round trip, the deployment-wide moment is reserved: the seconds until it come
    second. (It serves only a send that may leave at once: one held back for its recipient
    reserves another when its time comes, so it never holds back the others; a moment left
    unused is one message's worth of the rate.)"""
    kind, value, slot = _claim(rt, recipient, record, take_over=False, doubt=doubt)
    if kind == IN_DOUBT:
        _await_word(rt, record, float(value), absent_too=doubt is not None)
        kind, value, slot = _claim(rt, recipient, record, take_over=True)
    return value, slot


def _claim(rt: Runtime, recipient: str, record: str, take_over: bool,
           doubt: float | None = None) -> tuple[int, str | float, float]:
    def build(pipe: Any) -> None:
        scripts.evalsha(pipe, scripts.CLAIM_SEND, [record, keyspace.pair_pace_key(recipient)],
                        [f"{SENDING}{time.time():.3f}", keyspace.OUTBOUND_RECORD_TTL, pace.PAIR_INTERVAL_US,
                         pace.PAIR_TOLERANCE_US, "1" if take_over else "0",
                         "" if doubt is None else f"{doubt:.3f}"])
        pace.queue_global_slot(pipe, rt)

    answer, slot = scripts.run(rt.redis, build, redisline.for_thread(rt.redis))
    kind = int(answer[0])
    if kind == CLAIMED:
        return kind, max(int(answer[1]) - int(answer[2]), 0) / 1e6, pace.until(slot)
    existing = answer[1].decode() if isinstance(answer[1], bytes) else str(answer[1])
    if kind == SETTLED:
        return kind, existing, 0.0
    try:
        return kind, float(existing[len(SENDING):]), 0.0
    except ValueError:  # a claim from before claims said when
        return kind, 0.0, 0.0


def _await_word(rt: Runtime, record: str, since: float, absent_too: bool) -> None:
    """Waits, until DOUBT_SECONDS after the earlier claim (or unclaimed attempt), for its record
    to say what happened: while it still says `sending`, or with `absent_too` is not there."""
    deadline = since + sendahead.DOUBT_SECONDS
    if time.time() >= deadline:
        return
    log.info("send %s: an earlier attempt left no word; waiting for Meta's status before sending again", record)
    while time.time() < deadline:
        value = rt.redis.get(record)
        if value is None:
            if not absent_too:
                return
        elif not value.startswith(SENDING.encode()):
            return  # settled: it left, or is known unsent
        time.sleep(0.25)


def queue_left(pipe: Any, statuses: list[StatusUpdate]) -> None:
    """Queues on `pipe` the filling of the records Meta's statuses name (their callback data) that
    still say `sending` or `unsent`: proof the message left, for the attempt after a sender that
    died too soon to say (app.ingest.record_statuses sends it with the webhook's round trip); one
    with no record (sent unclaimed, app.sendahead) gets one."""
    for status in statuses:
        if keyspace.is_outbound_key(status.callback_data):
            made = [keyspace.OUTBOUND_RECORD_TTL] if status.status in PROOF_OF_LEAVING else []
            scripts.evalsha(pipe, scripts.UNSETTLED_BECOMES, [str(status.callback_data)],
                            [f"{LEFT}{status.message_id}", *made])


def send_now(rt: Runtime, payload: dict[str, Any], key: str,
             fallback: dict[str, Any] | None = None) -> str | None:
    """Sends unless already sent; returns the wamid. Retryable GraphErrors propagate; a permanent
    refusal goes to app.send_failures (Meta's code says what follows) and returns None.
    `fallback` (a template) is sent instead when Meta says the 24-hour window closed after all
    (131047)."""
    recipient = messages.address_of(payload)
    record = keyspace.outbound_key(recipient, key)
    prepared = sendahead.covering(recipient, key)
    if prepared is not None and prepared.unclaimed:
        pair, slot = _unclaimed(rt, prepared)
    else:
        claimed, slot = claim(rt, recipient, record, prepared.doubt() if prepared is not None else None)
        if isinstance(claimed, str):
            return _settled(rt, claimed, key, record, {"payload": payload, "fallback": fallback})
        # The claim must survive a failover before the message leaves, or a replayed turn sends it twice.
        try:
            store.replicated(rt.redis, [record], rt.settings.redis_wait_replicas, rt.settings.redis_wait_timeout_ms)
        except RedisError:
            _unclaim(rt, record)
            raise
        pair = claimed
    if pair > 0:
        time.sleep(pair)  # Meta's pair limit for this recipient
        pace.wait_for_slot(rt)  # the deployment-wide rate, from now
    elif slot is None:
        pace.wait_for_slot(rt)  # reserved ahead too long ago to keep the rate: anew
    elif slot > 0:
        time.sleep(slot)  # the deployment-wide rate
    try:
        try:
            wamid = rt.whatsapp.send({**payload, CALLBACK_FIELD: record})
        except errors.WindowClosed:
            if fallback is None:
                raise
            log.info("send %s: window closed after all, sending the template", key)
            payload, fallback = fallback, None  # what went is the template: nothing is left to fall back to
            wamid = rt.whatsapp.send({**payload, CALLBACK_FIELD: record})
    except errors.GraphError as exc:
        if exc.retryable and errors.action(exc.code) is not errors.Action.RETRY_HOURS_LATER:
            if exc.http_status is not None:  # Meta answered: it did not take the message
                rt.redis.set(record, UNSENT, ex=keyspace.OUTBOUND_RECORD_TTL)
            raise
        log.warning("send %s refused by Meta: %s", key, exc)
        rt.redis.set(record, f"failed:{exc.code}", ex=keyspace.OUTBOUND_RECORD_TTL)
        delivery.count_refused(rt, key)
        failure = {"code": exc.code, "title": exc.message, "details": exc.details or ""}
        rt.queues.enqueue(queues.OUTBOUND, queues.SEND_FAILED, payload, key, fallback, failure)
        return None
    _record(rt, wamid, key, record, {"payload": payload, "fallback": fallback})
    metrics.labelled(metrics.MESSAGES_OUT, payload.get("type", "unknown")).inc()
    return wamid


def _unclaimed(rt: Runtime, prepared: sendahead.Prepared) -> tuple[float, float | None]:
    """A send of a message's first try (app.sendahead): what the take wrote must survive a
    failover before anything leaves, as a claim must (once a turn); then the seconds until it may
    leave, as `claim` answers them (None: no fresh moment of the deployment's rate is reserved)."""
    if not prepared.replicated:
        store.replicated(rt.redis, [keyspace.inbox_messages_key(prepared.contact)], rt.settings.redis_wait_replicas,
                         rt.settings.redis_wait_timeout_ms)
        prepared.replicated = True
    return prepared.waits(rt)


def _unclaim(rt: Runtime, record: str) -> None:
    """The message never left: its record says so where Redis lets it, so that the next attempt
    sends at once rather than wait DOUBT_SECONDS for a status Meta will never send."""
    with contextlib.suppress(RedisError):
        scripts.call(rt.redis, scripts.UNSETTLED_BECOMES, [record], [UNSENT])


def _settled(rt: Runtime, outcome: str, key: str, record: str, sent: delivery.Sent) -> str:
    """The wamid of a send an earlier attempt made; recorded now if only Meta's status knew it."""
    if not outcome.startswith(LEFT):
        return outcome
    wamid = outcome[len(LEFT):]
    log.warning("send %s had left as %s, which only Meta's status said; not sent again", key, wamid)
    _record(rt, wamid, key, record, sent)
    return wamid


def _record(rt: Runtime, wamid: str, key: str, record: str, sent: delivery.Sent) -> None:
    """Notes that the message left. It did, whatever Redis does now: were this to fail and the
    turn be retried, the message would go out twice; so a Redis that is away (restarting, failing
    over) is waited for, up to RECORD_PATIENCE_SECONDS, before the failure is given up to the
    caller. In a drain's turn the note waits for the round trip that ends the turn, which keeps
    it whether or not the turn succeeds (app.writebehind, app.drain)."""
    def build(pipe: Any) -> None:
        pipe.execute_command("SET", record, wamid, "EX", keyspace.OUTBOUND_RECORD_TTL)  # not set(): its argument checks cost more than packing the trip
        delivery.queue_sent(pipe, wamid, key, sent)

    def after(answers: list[Any]) -> None:
        delivery.sent_recorded(rt, key, answers[1:])

    pending = writebehind.current()
    if pending is not None:
        pending.add(build, after, always=True)
        return
    patiently(lambda: after(scripts.run(rt.redis, build)), f"send {key} left as {wamid} but could not be recorded")


def patiently(write: Callable[[], None], what: str) -> None:
    """`write`, again while Redis is away, for up to RECORD_PATIENCE_SECONDS: for what must be
    kept because it already happened outside (`what` says which, in the log)."""
    deadline, pause = time.monotonic() + RECORD_PATIENCE_SECONDS, 0.1
    while True:
        try:
            write()
            return
        except RedisError as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("%s (%s); trying again", what, type(exc).__name__)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def deliver(rt: Runtime, payload: dict[str, Any], key: str, fallback: dict[str, Any] | None = None) -> str | None:
    """Sends now, in order with the caller's other sends; on a passing failure a job retries it."""
    try:
        return send_now(rt, payload, key, fallback)
    except errors.GraphError as exc:
        log.info("send %s failed (%s); retrying in the background", key, exc)
        rt.queues.enqueue(queues.OUTBOUND, send_message, payload, key, fallback)
        return None


def send_message(payload: dict[str, Any], key: str, fallback: dict[str, Any] | None = None) -> str | None:
    """A job: a send retried after a passing failure (RQ's backoff between tries)."""
    return send_now(runtime.current(), payload, key, fallback)
