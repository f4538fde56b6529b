"""A message's first try sends its replies unclaimed, at moments its take reserved (app.sendahead):
what happens when that try dies, when Meta's word comes late or never, and to the moments a turn
that sends nothing reserved."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from app import drain, inbox, keyspace, sendahead
from tests.chat import Chat
from tests.helpers import envelope, post_whatsapp, text
from tests.trips import Trips

MARIA = "4915123456789"


class Died(BaseException):
    """The worker killed mid-turn (SIGKILL, the machine gone): nothing after it runs."""


def first_try_dies(client: Any, rt: Any, work: Any, graph: Any, monkeypatch: pytest.MonkeyPatch, *,
                   after_meta_took_it: bool) -> str:
    """Maria asks for help, and the worker answering her dies as its reply goes to Graph: after
    Meta took it, or before. Returns her message's id."""
    question = asks_for_help(client, work, graph)
    send = rt.whatsapp.send

    def dying(payload: dict[str, Any]) -> str:
        if after_meta_took_it:
            send(payload)
        raise Died()
    monkeypatch.setattr(rt.whatsapp, "send", dying)
    with pytest.raises(Died):
        drain.drain_contact(MARIA)
    monkeypatch.undo()
    return question


def meta_says_sent(client: Any, graph: Any) -> None:
    """Meta's `sent` status for the last message it took, naming its record as Meta echoes it."""
    post_whatsapp(client, envelope(statuses=[{
        "id": graph.wamids[-1], "status": "sent", "timestamp": str(int(time.time())), "recipient_id": MARIA,
        "biz_opaque_callback_data": graph.sent[-1]["biz_opaque_callback_data"]}]))


def asks_for_help(client: Any, work: Any, graph: Any) -> str:
    """Maria, who wrote before, asks for help; the message waits in her inbox."""
    Chat(client, work, graph, MARIA).says("my cases")
    question = text(MARIA, "help")
    assert post_whatsapp(client, envelope(question)).status_code == 200
    return str(question["id"])


def test_a_first_try_sends_its_reply_unclaimed_and_records_it_when_the_turn_ends(client, rt, work, graph) -> None:  # type: ignore[no-untyped-def]
    question = asks_for_help(client, work, graph)
    record = keyspace.outbound_key(MARIA, f"{question}:reply:0")
    assert drain.drain_contact(MARIA) == 1
    assert graph.sent[-1]["biz_opaque_callback_data"] == record
    assert rt.redis.get(record) == graph.wamids[-1].encode()


def test_a_reply_meta_took_as_the_worker_died_is_not_sent_again(client, rt, work, graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    question = first_try_dies(client, rt, work, graph, monkeypatch, after_meta_took_it=True)
    sent = len(graph.sent)
    assert rt.redis.get(keyspace.outbound_key(MARIA, f"{question}:reply:0")) is None, "sent unclaimed, never recorded"
    meta_says_sent(client, graph)
    assert drain.drain_contact(MARIA) == 1
    assert len(graph.sent) == sent, "Meta's status said it left: not sent twice"
    assert rt.redis.get(keyspace.outbound_key(MARIA, f"{question}:reply:0")) == graph.wamids[-1].encode()
    assert rt.redis.zcard(keyspace.inbox_key(MARIA)) == 0


def test_the_try_after_a_dead_one_waits_for_metas_word_before_sending(client, rt, work, graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first_try_dies(client, rt, work, graph, monkeypatch, after_meta_took_it=True)
    sent = len(graph.sent)
    late = threading.Timer(0.5, meta_says_sent, (client, graph))  # Meta's status comes while the retry waits
    late.start()
    try:
        assert drain.drain_contact(MARIA) == 1
    finally:
        late.join()
    assert len(graph.sent) == sent, "the retry waited for the status rather than send again"


def test_a_reply_that_never_left_is_sent_once_metas_word_is_overdue(client, rt, work, graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    question = first_try_dies(client, rt, work, graph, monkeypatch, after_meta_took_it=False)
    monkeypatch.setattr(sendahead, "DOUBT_SECONDS", 0.5)
    sent = len(graph.sent)
    assert drain.drain_contact(MARIA) == 1
    assert len(graph.sent) == sent + 1
    assert graph.sent[-1]["context"]["message_id"] == question, "her answer, sent once"


def test_a_message_put_back_from_the_parked_list_does_not_send_again_what_its_tries_sent(client, rt, work, graph) -> None:  # type: ignore[no-untyped-def]
    question = asks_for_help(client, work, graph)
    assert drain.drain_contact(MARIA) == 1
    sent = len(graph.sent)
    stored = {"id": question, "sender": MARIA, "timestamp": int(time.time()), "type": "text", "text": "help"}
    inbox.requeue(rt, stored)  # as `tgwa parked retry` does
    assert drain.drain_contact(MARIA) == 1
    assert len(graph.sent) == sent, "its reply was recorded: the retry claims it and finds it sent"


def test_moments_reserved_for_replies_never_sent_are_given_back(client, rt, work, graph) -> None:  # type: ignore[no-untyped-def]
    maria = Chat(client, work, graph, MARIA)
    first = maria.says("my cases")
    pair_before = rt.redis.get(keyspace.pair_pace_key(MARIA))
    sent = len(graph.sent)
    for emoji in ("😀", "🎉", "😀"):
        maria.reacts(emoji, first)  # nothing to answer: each take reserved her reply's moments
    assert len(graph.sent) == sent
    assert rt.redis.get(keyspace.pair_pace_key(MARIA)) == pair_before, "her pair limit as her last reply left it"
    seconds, micros = rt.redis.time()
    slot_after = rt.redis.get(keyspace.GLOBAL_PACE)  # (lapses a second after its last moment)
    assert slot_after is None or int(slot_after) <= seconds * 1_000_000 + micros, "no moment of the rate held"


def test_a_first_try_sends_nothing_until_its_take_is_on_the_replicas(client, rt, work, graph) -> None:  # type: ignore[no-untyped-def]
    """REDIS_WAIT_REPLICAS=1 and no replica answers: a failover could forget the take, and the try
    after it would send unclaimed again. Nothing leaves; the message waits for its retry."""
    asks_for_help(client, work, graph)
    sent = len(graph.sent)
    replicated = rt.settings
    rt.settings = replicated.replace(redis_wait_replicas=1, redis_wait_timeout_ms=50)  # this Redis has none
    try:
        assert drain.drain_contact(MARIA) == 0
    finally:
        rt.settings = replicated
    assert len(graph.sent) == sent
    assert rt.redis.zcard(keyspace.inbox_key(MARIA)) == 1, "still waiting, for the retry"


def test_a_turn_slower_than_its_moment_reserves_another_and_still_answers(client, rt, work, graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    question = asks_for_help(client, work, graph)
    monkeypatch.setattr(sendahead, "STALE_SECONDS", -1.0)  # every moment reserved ahead is too old by the reply
    trips = Trips(monkeypatch)
    assert drain.drain_contact(MARIA) == 1
    assert trips.count == 3, "taking it, a moment of the rate anew, saving"
    assert graph.sent[-1]["context"]["message_id"] == question
    assert rt.redis.get(keyspace.outbound_key(MARIA, f"{question}:reply:0")) == graph.wamids[-1].encode()
