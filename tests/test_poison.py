"""A message that cannot be handled never locks its contact out: it is parked after a bounded
number of tries, with its reason, the person is told, and their next message is answered. Text no
store can hold as it came (a lone surrogate) is made well-formed at the webhook and kept escaped
wherever JSON is stored."""
from __future__ import annotations

import json
import time

import pytest

from app import drain, inbox, jsonsafe, keyspace, parked
from conversations import router, threads
from tests.helpers import envelope, post_event, post_whatsapp, text

JANA = "4915123456789"  # ACME, German
MARIA = "14155550134"   # GLOBEX, English


def raw_text(sender: str, escaped_body: bytes, message_id: str, timestamp: int) -> bytes:
    """A webhook body written by hand, so it can hold what no Python str encodes (a lone `\\ud83d`)."""
    return (b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
            b'"value":{"messaging_product":"whatsapp","messages":[{"from":"' + sender.encode() + b'","id":"'
            + message_id.encode() + b'","timestamp":"' + str(timestamp).encode() + b'","type":"text",'
            b'"text":{"body":"' + escaped_body + b'"}}]}}]}]}')


def test_half_an_emoji_is_answered_and_the_next_message_too(client, rt, work, graph) -> None:
    now = int(time.time())
    assert post_whatsapp(client, raw_text(MARIA, b"hello \\ud83d", "wamid.half", now - 2)).status_code == 200
    work()
    assert post_whatsapp(client, envelope(text(MARIA, "help", timestamp=now - 1))).status_code == 200
    work()
    replies = graph.texts_to(MARIA)
    assert len(replies) == 2 and replies[1].startswith("I'm the Trading Grid assistant")
    assert rt.redis.zcard(keyspace.inbox_key(MARIA)) == 0, "nothing is left waiting"
    assert parked.items(rt.redis) == []
    session = threads.load(rt, MARIA).session
    assert session["recent"] == ["hello \ufffd"], "half a character is the replacement character"


def test_an_event_with_half_an_emoji_is_accepted_and_told(client, rt, work, graph, grid) -> None:
    case = grid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": "PO-77",
                             "summary": "late"}, idempotency_key="seed")
    body = json.dumps({"id": "evt-half", "type": "exception.logged", "occurred_at": "2026-11-24T09:00:00Z",
                       "case_id": case["id"], "partner_id": "GLOBEX", "issue_type": "shipment_delay",
                       "reference": "PO-77", "summary": "stuck \ud83d at the border",
                       "thread_url": "https://tg.example.com/x"}).encode()
    assert b"\\ud83d" in body
    assert post_event(client, None, raw=body).status_code == 202
    work()
    assert "stuck \ufffd at the border" in graph.texts_to(MARIA)[0]


def test_a_message_whose_handling_fails_is_parked_told_and_the_next_answered(client, rt, work, graph,
                                                                             monkeypatch) -> None:
    real = router.dispatch

    def broken(turn):  # type: ignore[no-untyped-def]
        if turn.text == "boom":
            raise KeyError("a bug")
        real(turn)

    monkeypatch.setattr(router, "dispatch", broken)
    now = int(time.time())
    post_whatsapp(client, envelope(text(JANA, "boom", message_id="wamid.boom", timestamp=now - 2)))
    post_whatsapp(client, envelope(text(JANA, "hilfe", timestamp=now - 1)))
    work()
    [item] = parked.items(rt.redis)
    assert item["kind"] == "inbound" and item["reason"] == "KeyError: 'a bug'"
    assert item["payload"]["id"] == "wamid.boom"
    told, helped = graph.texts_to(JANA)
    assert told.startswith('Entschuldigung, bei Ihrer Nachricht "boom" ist etwas schiefgegangen.')
    assert graph.sent[0]["context"] == {"message_id": "wamid.boom"}
    assert helped.startswith("Ich bin der Trading-Grid-Assistent")
    assert rt.redis.hlen(keyspace.inbox_messages_key(JANA)) == 0, "no counters left behind"


def test_a_message_taken_too_often_is_parked_with_its_last_reason(client, rt, work, graph) -> None:
    now = int(time.time())
    post_whatsapp(client, envelope(text(MARIA, "help", message_id="wamid.stuck", timestamp=now - 2)))
    post_whatsapp(client, envelope(text(MARIA, "my cases", timestamp=now - 1)))
    messages = keyspace.inbox_messages_key(MARIA)
    # As if ten workers had each died while handling it, the last after Trading Grid timed out:
    rt.redis.hset(messages, mapping={inbox.tries_field("wamid.stuck"): drain.MAX_TRIES,
                                     inbox.why_field("wamid.stuck"): "TransientError: Trading Grid timed out"})
    work()
    [item] = parked.items(rt.redis)
    assert item["reason"] == f"gave up after {drain.MAX_TRIES} tries: TransientError: Trading Grid timed out"
    replies = graph.texts_to(MARIA)
    assert replies[0].startswith('Sorry, something went wrong with your message "help".')
    assert len(replies) == 2, "the next message is answered"
    assert rt.redis.zcard(keyspace.inbox_key(MARIA)) == 0


def test_a_parked_message_retried_is_handled_afresh(client, rt, work, graph, monkeypatch) -> None:
    monkeypatch.setattr(router, "dispatch", lambda turn: (_ for _ in ()).throw(RuntimeError("down")))
    post_whatsapp(client, envelope(text(MARIA, "help", message_id="wamid.again", timestamp=int(time.time()) - 5)))
    work()
    [item] = parked.items(rt.redis)
    monkeypatch.undo()
    assert parked.retry(rt, item["id"]) is not None
    work()
    assert graph.texts_to(MARIA)[-1].startswith("I'm the Trading Grid assistant")
    assert parked.items(rt.redis) == []


@pytest.mark.parametrize("nested", [b"[" * 100_000, b'{"a":' * 50_000])
def test_an_event_nested_past_any_parser_is_refused_not_crashed(client, nested: bytes) -> None:
    answer = post_event(client, None, raw=nested)
    assert answer.status_code == 400 and answer.get_json() == {"error": "body is not JSON"}


def test_json_tgwa_stored_reads_back_as_written_lone_surrogates_included() -> None:
    value = {"text": "half \ud83d an emoji", "n": 1}
    stored = jsonsafe.dumps(value)
    assert b"\\ud83d" in stored, "kept as its escape, which UTF-8 can hold"
    assert jsonsafe.loads_stored(stored) == value
    assert jsonsafe.loads_stored(jsonsafe.dumps({"plain": "ü"})) == {"plain": "ü"}
