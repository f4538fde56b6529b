"""Pacing and delivery tracking, on the Redis every worker shares."""
from __future__ import annotations

from app import delivery, pace, store
from tests.helpers import envelope, post_whatsapp


def test_sends_are_spaced_evenly_at_the_deployment_rate(rt) -> None:
    slots = [pace.global_slot(rt)[0] for _ in range(200)]  # as many workers asking at once
    interval = int(1e6 / (rt.settings.whatsapp_max_mps * pace.SAFETY))
    assert [b - a for a, b in zip(slots, slots[1:])] == [interval] * 199
    per_second = max(sum(1 for s in slots if start <= s < start + 1_000_000) for start in slots)
    assert per_second <= rt.settings.whatsapp_max_mps, "no one-second window above the cap"


def claim(rt, recipient: str, n: int) -> float:  # type: ignore[no-untyped-def]
    result = pace.claim(rt, recipient, store.outbound_key(recipient, f"send-{n}"), b"sending", 60)
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
    pace.sender_wait(rt, "4915123456789")
    sent_pace = rt.redis.pttl(store.pair_pace_key("4915123456789"))
    read_pace = rt.redis.pttl(store.sender_pace_key("4915123456789"))
    assert 0 < sent_pace <= (pace.PAIR_INTERVAL_SECONDS + 1) * 1000
    assert 0 < read_pace <= (pace.SENDER_INTERVAL_SECONDS + 1) * 1000


def test_a_send_claimed_before_returns_its_wamid(rt) -> None:
    record = store.outbound_key("4915123456789", "event:1:4915123456789")
    rt.redis.set(record, "wamid.sent.before")
    assert pace.claim(rt, "4915123456789", record, b"sending", 60) == "wamid.sent.before"


def status(wamid: str, name: str, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"id": wamid, "status": name, "timestamp": "1700000000", "recipient_id": "4915123456789", **extra}


def test_statuses_count_once_per_message_whatever_their_order(client, rt, work) -> None:
    delivery.record_sent(rt, "wamid.a", "event:evt-1:4915123456789")
    post_whatsapp(client, envelope(statuses=[status("wamid.b", "read")]))  # before its send is recorded
    work()
    delivery.record_sent(rt, "wamid.b", "event:evt-1:4915111112222")
    post_whatsapp(client, envelope(statuses=[status("wamid.a", "delivered"), status("wamid.a", "read"),
                                             status("wamid.a", "delivered"), status("wamid.b", "delivered")]))
    delivery.record_sent(rt, "wamid.c", "event:evt-1:4915100000000")
    post_whatsapp(client, envelope(statuses=[status("wamid.c", "failed", errors=[
        {"code": 131026, "title": "Message undeliverable"}]), status("wamid.c", "read")]))
    work()
    assert delivery.stats(rt, "event:evt-1") == {"sent": 3, "delivered": 2, "read": 2, "failed": 1}
    failed = delivery.status_of(rt, "wamid.c")
    assert (failed["status"], failed["error_code"], failed["error_title"]) == ("failed", "131026", "Message undeliverable")


def test_replies_are_not_counted_as_notifications() -> None:
    assert delivery.purpose_of("wamid.in.1:reply:0") == "reply"
    assert delivery.purpose_of("event:evt-9:4915123456789") == "event:evt-9"
