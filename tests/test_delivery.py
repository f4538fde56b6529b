"""Pacing and delivery tracking, on the Redis every worker shares."""
from __future__ import annotations

import time
from typing import Any

import pytest
from redis.exceptions import RedisError

from app import delivery, inbox, ingest, keyspace, outbound, pace, scripts, sendahead
from app.whatsapp import errors, messages
from app.whatsapp.inbound import InboundMessage
from app.queues import OUTBOUND
from tests.helpers import at_once, envelope, post_whatsapp

SENT: delivery.Sent = {"payload": messages.text("4915123456789", "Your delivery is confirmed."), "fallback": None}


def test_sends_are_spaced_evenly_at_the_deployment_rate(rt) -> None:
    slots = [pace.global_slot(rt)[0] for _ in range(200)]  # as many workers asking at once
    interval = int(1e6 / (rt.settings.whatsapp_max_mps * pace.SAFETY))
    assert [b - a for a, b in zip(slots, slots[1:])] == [interval] * 199
    per_second = max(sum(1 for s in slots if start <= s < start + 1_000_000) for start in slots)
    assert per_second <= rt.settings.whatsapp_max_mps, "no one-second window above the cap"


def claim(rt, recipient: str, n: int) -> float:  # type: ignore[no-untyped-def]
    result, _ = outbound.claim(rt, recipient, keyspace.outbound_key(recipient, f"send-{n}"))
    assert isinstance(result, float)
    return result


def test_one_recipient_gets_a_burst_then_one_message_every_six_seconds(rt) -> None:
    rt.settings = rt.settings.replace(whatsapp_max_mps=10_000_000)  # only the pair limit binds here
    waits = [claim(rt, "4915123456789", n) for n in range(pace.PAIR_BURST + 2)]
    assert waits[:pace.PAIR_BURST] == [0.0] * pace.PAIR_BURST, "the burst leaves at once"
    assert pace.PAIR_INTERVAL_SECONDS - 0.5 < waits[pace.PAIR_BURST] <= pace.PAIR_INTERVAL_SECONDS
    assert 2 * pace.PAIR_INTERVAL_SECONDS - 0.5 < waits[pace.PAIR_BURST + 1] <= 2 * pace.PAIR_INTERVAL_SECONDS
    assert claim(rt, "4915000000000", 0) == 0.0, "another recipient is not held back"


def test_a_schedule_is_kept_only_while_it_binds(rt) -> None:
    """Pacing keys go a second after their last moment, not minutes later: a broadcast to
    thousands leaves no schedule behind once it has passed."""
    claim(rt, "4915123456789", 0)
    message = InboundMessage(id="wamid.in", sender="4915123456789", timestamp=int(time.time()), type="text", text="hi")
    scripts.run(rt.redis, lambda pipe: inbox.record(pipe, [message]))
    taken = scripts.run(rt.redis, lambda pipe: inbox.take(pipe, "4915123456789", "token", lock=True))[0]
    assert inbox.taken(taken).outcome == inbox.HEAD  # which counts the sender's pace, and reserves her reply's moment
    sent_pace = rt.redis.pttl(keyspace.pair_pace_key("4915123456789"))
    read_pace = rt.redis.pttl(keyspace.sender_pace_key("4915123456789"))
    assert 0 < sent_pace <= (2 * pace.PAIR_INTERVAL_SECONDS + 1) * 1000  # two moments: the claim's and the take's
    assert 0 < read_pace <= (pace.SENDER_INTERVAL_SECONDS + 1) * 1000


def test_a_send_claimed_before_returns_its_wamid(rt) -> None:
    record = keyspace.outbound_key("4915123456789", "event:1:4915123456789")
    rt.redis.set(record, "wamid.sent.before")
    assert outbound.claim(rt, "4915123456789", record)[0] == "wamid.sent.before"


def status(wamid: str, name: str, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"id": wamid, "status": name, "timestamp": "1700000000", "recipient_id": "4915123456789", **extra}


def test_statuses_count_once_per_message_whatever_their_order(client, rt, work) -> None:
    delivery.record_sent(rt, "wamid.a", "event:evt-1:4915123456789", SENT)
    post_whatsapp(client, envelope(statuses=[status("wamid.b", "read")]))  # before its send is recorded
    work()
    delivery.record_sent(rt, "wamid.b", "event:evt-1:4915111112222", SENT)
    post_whatsapp(client, envelope(statuses=[status("wamid.a", "delivered"), status("wamid.a", "read"),
                                             status("wamid.a", "delivered"), status("wamid.b", "delivered")]))
    delivery.record_sent(rt, "wamid.c", "event:evt-1:4915100000000", SENT)
    post_whatsapp(client, envelope(statuses=[status("wamid.c", "failed", errors=[
        {"code": 131026, "title": "Message undeliverable"}]), status("wamid.c", "read")]))
    work()
    assert delivery.stats(rt, "event:evt-1") == {"sent": 3, "delivered": 2, "read": 2, "failed": 1}
    failed = delivery.status_of(rt, "wamid.c")
    assert (failed["status"], failed["error_code"], failed["error_title"]) == ("failed", "131026", "Message undeliverable")


def test_status_webhooks_arriving_together_share_one_job_and_each_is_counted(client, rt, work, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Meta sends a status webhook for every message sent, delivered and read: those in flight
    together are recorded in one round trip with one job for all of them, and none is lost."""
    recorded = ingest.record_statuses

    def slow(*args: Any) -> Any:  # a round trip long enough for the others to arrive meanwhile
        time.sleep(0.05)
        return recorded(*args)

    monkeypatch.setattr(ingest, "record_statuses", slow)
    wamids = [f"wamid.many.{n}" for n in range(12)]
    for n, wamid in enumerate(wamids):
        delivery.record_sent(rt, wamid, f"event:evt-2:49151{n:08d}", SENT)
    answers = at_once(lambda wamid: post_whatsapp(client, envelope(statuses=[status(wamid, "delivered")])),
                      wamids)
    assert [getattr(a, "status_code", a) for a in answers] == [200] * 12, [getattr(a, "data", a) for a in answers]
    jobs = rt.queues.by_name[OUTBOUND].jobs
    assert sum(len(job.args[0]) for job in jobs) == 12, "every status has its job"
    assert len(jobs) <= 3, "webhooks in flight together share one (the first may go alone)"
    work()
    assert delivery.stats(rt, "event:evt-2") == {"sent": 12, "delivered": 12, "read": 0, "failed": 0}


def test_replies_are_not_counted_as_notifications() -> None:
    assert delivery.purpose_of("wamid.in.1:reply:0") == "reply"
    assert delivery.purpose_of("event:evt-9:4915123456789") == "event:evt-9"


PARTNER, REPLY_KEY = "4915123456789", "wamid.in.1:reply:0"


def test_a_reply_whose_sender_died_before_recording_it_is_found_by_metas_status(client, rt, graph) -> None:
    """A worker claimed the reply, Meta took it, the worker died before writing it down. Meta's
    `sent` status carries the send's record as its callback data: the next attempt finds the
    reply sent (and records it), it does not send it again."""
    record = keyspace.outbound_key(PARTNER, REPLY_KEY)
    rt.redis.set(record, f"{outbound.SENDING}{time.time():.3f}")  # as the dead worker left it
    assert post_whatsapp(client, envelope(statuses=[
        status("wamid.took", "sent", biz_opaque_callback_data=record)])).status_code == 200
    assert outbound.send_now(rt, messages.text(PARTNER, "Thanks!"), REPLY_KEY) == "wamid.took"
    assert graph.sent == []
    assert rt.redis.get(record) == b"wamid.took"
    assert delivery.status_of(rt, "wamid.took")["purpose"] == "reply"


def test_every_send_names_its_record_for_metas_statuses(rt, graph) -> None:
    assert outbound.send_now(rt, messages.text(PARTNER, "Thanks!"), REPLY_KEY) == "wamid.fake.1"
    assert graph.sent[0]["biz_opaque_callback_data"] == keyspace.outbound_key(PARTNER, REPLY_KEY)
    assert graph.sent[0]["text"]["body"] == "Thanks!"


def test_a_claim_that_never_said_how_it_went_is_taken_over_once_metas_status_is_overdue(rt, graph) -> None:
    record = keyspace.outbound_key(PARTNER, REPLY_KEY)
    rt.redis.set(record, f"{outbound.SENDING}{time.time() - sendahead.DOUBT_SECONDS:.3f}")
    assert outbound.send_now(rt, messages.text(PARTNER, "Thanks!"), REPLY_KEY) == "wamid.fake.1"
    assert len(graph.sent) == 1
    assert rt.redis.get(record) == b"wamid.fake.1"


def test_a_send_meta_answered_with_an_error_is_known_unsent_and_tried_again_at_once(rt, graph) -> None:
    graph.fail_next(503)
    with pytest.raises(errors.Unreachable):
        outbound.send_now(rt, messages.text(PARTNER, "Thanks!"), REPLY_KEY)
    assert rt.redis.get(keyspace.outbound_key(PARTNER, REPLY_KEY)) == outbound.UNSENT.encode()
    assert outbound.send_now(rt, messages.text(PARTNER, "Thanks!"), REPLY_KEY) == "wamid.fake.1"
    assert len(graph.sent) == 1


def test_a_claim_redis_could_not_replicate_is_sent_at_once_when_it_can(rt, graph) -> None:
    """REDIS_WAIT_REPLICAS=1 and no replica answers: the reply may not leave (a failover would
    forget its claim). It did not leave, and its record says so, so the next attempt sends it at
    once rather than wait DOUBT_SECONDS for a status Meta will never send."""
    replicated = rt.settings
    rt.settings = replicated.replace(redis_wait_replicas=1, redis_wait_timeout_ms=50)  # this Redis has none
    with pytest.raises(RedisError):
        outbound.send_now(rt, messages.text(PARTNER, "Thanks!"), REPLY_KEY)
    assert graph.sent == []
    assert rt.redis.get(keyspace.outbound_key(PARTNER, REPLY_KEY)) == outbound.UNSENT.encode()
    rt.settings = replicated
    assert outbound.send_now(rt, messages.text(PARTNER, "Thanks!"), REPLY_KEY) == "wamid.fake.1"
    assert len(graph.sent) == 1


def test_a_status_naming_something_other_than_a_send_record_changes_nothing(client, rt) -> None:
    record = keyspace.outbound_key(PARTNER, REPLY_KEY)
    rt.redis.set(record, "wamid.recorded")
    rt.redis.set("tgwa:settings", "sending:1")
    assert post_whatsapp(client, envelope(statuses=[
        status("wamid.x", "sent", biz_opaque_callback_data=record),
        status("wamid.y", "sent", biz_opaque_callback_data="tgwa:settings"),
        status("wamid.z", "sent", biz_opaque_callback_data="x" * 600)])).status_code == 200
    assert rt.redis.get(record) == b"wamid.recorded", "a recorded send keeps its wamid"
    assert rt.redis.get("tgwa:settings") == b"sending:1"
