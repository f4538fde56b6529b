"""Durable recording of what arrives, before the webhook answers: dedupe and storage in one
atomic step per item, then work for the workers. Raises redis.RedisError when the store is down,
which the webhooks turn into 503 so the sender delivers again."""
from __future__ import annotations

import collections
import datetime as dt
import functools
import threading
from collections.abc import Callable
from typing import Any

from app import inbox, jsonsafe, keyspace, metrics, outbound, queues, ready, redisline, scripts, store, template_status
from app.groupcommit import GroupCommit
from app.runtime import Runtime
from app.whatsapp.inbound import InboundMessage, Notification, StatusUpdate

# Under load, a group commit's leader waits this long for more webhooks to join its round trip
# (app.groupcommit): batches of about ten instead of four, a sixth less Redis CPU a message.
LINGER_SECONDS = 0.0003


def record_whatsapp(rt: Runtime, note: Notification) -> int:
    """Records every new message and status; returns how many messages were new.

    The messages go into the process's group commit (rt.inbound), which records the messages
    of every webhook waiting together in one pipelined round trip."""
    outcomes = group_commit(rt).submit(note.messages) if note.messages else []
    if note.statuses:
        _commit(rt, "statuses_in", record_statuses).submit(note.statuses)
    if note.templates:
        template_status.record(rt.redis, note.templates)
    return sum(1 for outcome in outcomes if outcome == scripts.NEW)


def group_commit(rt: Runtime) -> GroupCommit[list[InboundMessage], list[int]]:
    """This process's group commit of inbound messages (`record_messages`), made on first use and
    kept on the runtime, sent by a Line of its own where the store allows one."""
    return _commit(rt, "inbound", record_messages)


_making = threading.Lock()


def _commit(rt: Runtime, name: str, record: Callable[..., Any]) -> GroupCommit[Any, Any]:
    """The process's group commit kept on the runtime as `name`, sending by `record` over a Line
    of its own where the store allows one; made by the first webhook to need it, once, though
    the first burst's webhooks arrive together."""
    commit = getattr(rt, name)
    if commit is None:
        with _making:
            commit = getattr(rt, name)
            if commit is None:
                commit = GroupCommit(functools.partial(record, rt, redisline.line(rt.redis)), LINGER_SECONDS)
                setattr(rt, name, commit)
    return commit


def record_messages(rt: Runtime, by: redisline.Line | None, batches: list[list[InboundMessage]]) -> list[list[int]]:
    """Records and dedupes the messages of several webhooks (one script call for all whose keys
    share a Cluster slot: all of them on a single server), marks their contacts ready for a
    drainer (app.ready) and notes when each last wrote (for /ops), all in one pipelined round
    trip (by the Line `by`, if any); only when no drainer is on the work does a second trip
    queue one. Answers each webhook's outcomes
    (scripts.NEW or a duplicate), message by message."""
    messages = [message for batch in batches for message in batch]
    contacts = list(dict.fromkeys(message.sender for message in messages))
    groups = store.by_slot(rt.redis, [keyspace.contact_tag(message.sender) for message in messages])

    latest: dict[str, int] = {}
    for message in messages:
        latest[message.sender] = max(latest.get(message.sender, 0), message.timestamp)

    def build(pipe: Any) -> None:
        pipe.execute_command("ZADD", keyspace.WINDOWS, "GT", *[v for c, ts in latest.items() for v in (ts, c)])
        for group in groups:
            inbox.record(pipe, [messages[n] for n in group])
        ready.mark(pipe, rt, contacts)

    answers = scripts.run(rt.redis, build, by)
    ready.start_drainer(rt, answers[-1])  # its lease is taken: it must start, whatever comes next
    store.replicated(rt.redis, [keyspace.READY_CONTACTS, *(keyspace.inbox_key(c) for c in contacts)],
                     rt.settings.redis_wait_replicas, rt.settings.redis_wait_timeout_ms)
    outcomes = [0] * len(messages)
    for group, group_answers in zip(groups, answers[1:-1], strict=True):
        for n, outcome in zip(group, group_answers, strict=True):
            outcomes[n] = outcome
    _count(messages, outcomes)
    per_webhook, start = [], 0
    for batch in batches:
        per_webhook.append(outcomes[start:start + len(batch)])
        start += len(batch)
    return per_webhook


def record_statuses(rt: Runtime, by: redisline.Line | None, batches: list[list[StatusUpdate]]) -> list[None]:
    """Meta's statuses of several webhooks, in one round trip (by the Line `by`, if any): the
    records of the sends they name filled in at once (a retried send may be waiting for that word,
    app.outbound.queue_left), and one job to apply them all (app.delivery.apply_statuses),
    queued in a second trip where the queues have a Redis of their own. A status webhook for every
    message sent, delivered and read outnumbers the messages people write: one RQ job and two
    round trips each cost more than all the rest of it."""
    statuses = [status for batch in batches for status in batch]
    shared = rt.queues.connection is rt.redis

    def queue_job(pipe: Any) -> None:
        rt.queues.enqueue_on(pipe, queues.OUTBOUND, queues.APPLY_STATUSES, [s.to_dict() for s in statuses])

    def build(pipe: Any) -> None:
        outbound.queue_left(pipe, statuses)
        if shared:
            queue_job(pipe)

    scripts.run(rt.redis, build, by)
    if not shared:
        scripts.run(rt.queues.connection, queue_job)
    store.replicated(rt.queues.connection, [rt.queues.by_name[queues.OUTBOUND].key],
                     rt.settings.redis_wait_replicas, rt.settings.redis_wait_timeout_ms)
    for kind, count in collections.Counter(status.status for status in statuses).items():
        metrics.labelled(metrics.STATUSES_IN, kind).inc(count)
    return [None] * len(batches)


def _count(messages: list[InboundMessage], outcomes: list[int]) -> None:
    """The metrics of a batch: new messages by type, and duplicates; one increment a kind."""
    new = collections.Counter(message.type for message, outcome in zip(messages, outcomes) if outcome == scripts.NEW)
    for kind, count in new.items():
        metrics.labelled(metrics.MESSAGES_IN, kind).inc(count)
    duplicates = len(messages) - sum(new.values())
    if duplicates:
        metrics.labelled(metrics.DEDUPE_HITS, "whatsapp").inc(duplicates)


def record_webhook_event(rt: Runtime, event: dict[str, Any]) -> bool:
    """`record_event` for the webhook: through this process's group commit of events, which
    records those of every webhook waiting together in one round trip and queues one job for them."""
    return bool(_commit(rt, "events_in", record_events).submit(event))


def record_event(rt: Runtime, event: dict[str, Any]) -> bool:
    """True when the event is new. A duplicate still pending gets its job again (it may be lost)."""
    return record_events(rt, None, [event])[0]


def record_events(rt: Runtime, by: redisline.Line | None, events: list[dict[str, Any]]) -> list[bool]:
    """Records and dedupes `events` and queues one job for them all (HANDLE_EVENT for one,
    HANDLE_EVENTS for several: a job costs RQ more than recording dozens of events), in one
    pipelined round trip (by the Line `by`, if any) when the queues share the state's Redis; where
    they have a server of their own (REDIS_QUEUE_URL beside a Cluster) the job follows the records
    in a second. True for each event that is new.

    The job goes with the records, before their outcomes are known: a copy of an event already
    handled finds it done and does nothing, and a copy of one still pending gives it a job again
    (its first may be lost)."""
    keys = [keyspace.event_key(event["id"]) for event in events]
    ids = list(dict.fromkeys(event["id"] for event in events))
    shared = rt.queues.connection is rt.redis

    def queue_job(pipe: Any) -> None:
        if len(ids) == 1:
            rt.queues.enqueue_on(pipe, queues.EVENTS, queues.HANDLE_EVENT, ids[0])
        else:
            rt.queues.enqueue_on(pipe, queues.EVENTS, queues.HANDLE_EVENTS, ids)

    def build(pipe: Any) -> None:
        for key, event in zip(keys, events, strict=True):
            scripts.evalsha(pipe, scripts.RECORD_EVENT, [key], [jsonsafe.dumps(event), keyspace.EVENT_DEDUPE_TTL])
        if shared:
            queue_job(pipe)

    outcomes = scripts.run(rt.redis, build, by)[:len(events)]
    if not shared:
        scripts.run(rt.queues.connection, queue_job)
    store.replicated(rt.redis, keys, rt.settings.redis_wait_replicas, rt.settings.redis_wait_timeout_ms)
    for event, outcome in zip(events, outcomes, strict=True):
        if outcome == scripts.NEW:
            metrics.labelled(metrics.EVENTS_IN, event["type"]).inc()
        else:
            metrics.labelled(metrics.DEDUPE_HITS, "tradinggrid").inc()
    return [outcome == scripts.NEW for outcome in outcomes]


def record_own_event(rt: Runtime, event_id: str, kind: str, at: float, **fields: Any) -> bool:
    """An event tgwa makes itself (a staff member's reply, a partner's answer for staff, a
    hand-off, a hold), recorded and handled exactly as Trading Grid's are, once by its id."""
    occurred = dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return record_event(rt, {"id": event_id, "type": kind, "occurred_at": occurred, **fields})
