"""POST/GET /webhooks/whatsapp as the contract says, including everything a hostile or broken
sender might do. Never a 5xx other than the 503 that asks Meta to deliver again."""
from __future__ import annotations

import io
import json
import time

import redis

from app import create_app, keyspace, runtime
from conversations import say
from app.signatures import sign
from tests.conftest import APP_SECRET, VERIFY_TOKEN
from tests.helpers import at_once, envelope, post_whatsapp, text

JANA = "4915123456789"      # a partner contact in tests/fixtures/directory.yaml
STRANGER = "4930999999999"  # nobody in the directory


def test_handshake_echoes_the_challenge_only_for_our_token(client) -> None:
    ok = client.get("/webhooks/whatsapp", query_string={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.data, ok.mimetype) == (200, b"1158201444", "text/plain")
    for query in ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
                  {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
                  {}):
        assert client.get("/webhooks/whatsapp", query_string=query).status_code == 403


def test_unsigned_or_wrongly_signed_bodies_are_refused_and_not_processed(client, rt, work, graph) -> None:
    body = envelope(text(JANA, "hello"))
    assert post_whatsapp(client, body, signature="").status_code == 403
    assert post_whatsapp(client, body, secret="not-the-app-secret").status_code == 403
    assert post_whatsapp(client, body, signature="sha256=" + "0" * 64).status_code == 403
    assert client.post("/webhooks/whatsapp", data=json.dumps(body)).status_code == 403
    work()
    assert graph.sent == []


def test_signature_is_over_the_raw_bytes_whatever_they_contain(client, work, graph) -> None:
    tricky = 'Liefertermin 03.12. 🚚 – Grüße / @jana "quoted" \\ back\u2028slash'
    raw = json.dumps(envelope(text(JANA, tricky)), ensure_ascii=False).encode()
    assert post_whatsapp(client, raw).status_code == 200
    escaped = json.dumps(envelope(text(JANA, tricky))).encode()  # \\u escapes, as Meta sends them
    assert post_whatsapp(client, escaped).status_code == 200
    work()
    assert len(graph.texts_to(JANA)) == 2


def test_not_json_is_400_and_too_large_is_413(client) -> None:
    assert post_whatsapp(client, b"{not json").status_code == 400
    assert post_whatsapp(client, b"\xff\xfe\x00garbage").status_code == 400
    huge = json.dumps(envelope(text(JANA, "x" * (1024 * 1024)))).encode()
    assert post_whatsapp(client, huge).status_code == 413


def test_nesting_past_what_json_parses_is_400(client) -> None:
    answer = post_whatsapp(client, b"[" * 200_000 + b"]" * 200_000)
    assert answer.status_code == 400 and answer.get_json() == {"error": "body is not JSON"}


def _post_wsgi(client, raw: bytes, **environ: object) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    """A signed POST handed to the app as a WSGI server would, with `environ` on top."""
    answered: list[str] = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/webhooks/whatsapp", "SERVER_NAME": "tgwa",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(raw),
               "wsgi.errors": io.StringIO(), "HTTP_X_HUB_SIGNATURE_256": sign(APP_SECRET, raw), **environ}
    body = b"".join(client.application.wsgi_app(environ, lambda status, headers: answered.append(status)))
    return answered[0], body


def test_a_chunked_body_is_read_to_its_end_and_held_to_the_same_limit(client, work, graph) -> None:
    """No Content-Length (chunked): the body is read to the end the server marks, and over 1 MiB
    it is refused as a sized one is."""
    status, body = _post_wsgi(client, json.dumps(envelope(text(JANA, "help"))).encode(), **{"wsgi.input_terminated": True})
    assert status == "200 OK" and json.loads(body)["messages"] == 1
    huge = json.dumps(envelope(text(JANA, "x" * (1024 * 1024)))).encode()
    assert _post_wsgi(client, huge, **{"wsgi.input_terminated": True})[0].startswith("413")
    work()
    assert len(graph.texts_to(JANA)) == 1


def test_a_content_length_that_is_not_a_length_is_400(client) -> None:
    raw = json.dumps(envelope(text(JANA, "help"))).encode()
    for length in ("abc", "-5"):
        status, body = _post_wsgi(client, raw, CONTENT_LENGTH=length)
        assert status.startswith("400") and "Content-Length" in json.loads(body)["error"]


def test_other_methods_are_told_what_the_endpoint_allows(client) -> None:
    refused = client.put("/webhooks/whatsapp")
    assert refused.status_code == 405 and "POST" in refused.headers["Allow"]
    assert client.options("/webhooks/whatsapp").headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_unknown_shapes_and_types_are_200_and_ignored(client, work, graph) -> None:
    for body in ({}, [], 42, "text", None, {"entry": "nope"}, {"entry": [{"changes": [{"value": 1}]}]},
                 {"object": "page", "entry": [{"changes": [{"field": "feed", "value": {}}]}]},
                 envelope({"from": JANA, "timestamp": "1"}),                      # no id
                 envelope({"id": "wamid.x", "type": "text"}),                    # no sender
                 {"entry": [{"changes": [{"field": "messages", "value": {"messages": [7, None, "x"],
                                                                        "statuses": [{}, 3]}}]}]}):
        answer = post_whatsapp(client, body if body is not None else b"null")
        assert answer.status_code == 200, body
    assert post_whatsapp(client, envelope({"from": JANA, "id": "wamid.hologram", "timestamp": "1",
                                           "type": "hologram", "hologram": {}})).status_code == 200
    work()
    assert graph.texts_to(JANA), "an unknown message type from a person is still answered"


def test_long_and_control_character_texts_are_taken(client, work, graph) -> None:
    for body in ("é" * 4096, "a\x00b\x07c\x1b[31m\r\n\t", "\u202eevil", "🚚" * 2000):
        assert post_whatsapp(client, envelope(text(JANA, body))).status_code == 200
    work()
    assert len(graph.texts_to(JANA)) == 4


def test_json_the_fast_parser_refuses_is_still_taken(client, work, graph) -> None:
    """A lone surrogate escape (half an emoji, as a broken client may send it), an integer past 64
    bits and NaN are JSON the standard library reads; the webhook takes them as it always has."""
    raw = (b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
           b'"value":{"messaging_product":"whatsapp","big":123456789012345678901234567890,"odd":NaN,'
           b'"messages":[{"from":"' + JANA.encode() + b'","id":"wamid.surrogate","timestamp":"1700000000",'
           b'"type":"text","text":{"body":"half an emoji \\ud83d here"}}]}}]}]}')
    answer = post_whatsapp(client, raw)
    assert answer.status_code == 200 and answer.get_json()["messages"] == 1
    work()
    assert len(graph.texts_to(JANA)) == 1


def test_each_message_is_processed_once_however_often_it_arrives(client, rt, work, graph) -> None:
    body = envelope(text(JANA, "received", message_id="wamid.once"))
    for _ in range(3):
        assert post_whatsapp(client, body).status_code == 200
    work()
    assert post_whatsapp(client, body).status_code == 200  # days later, after handling
    work()
    assert len(graph.texts_to(JANA)) == 1
    assert rt.redis.ttl(keyspace.seen_key(JANA, "wamid.once")) > 7 * 24 * 3600


def test_concurrent_duplicates_are_recorded_once(client, rt, work, graph) -> None:
    body = envelope(text(JANA, "accept", message_id="wamid.race"))
    answers = at_once(lambda body: post_whatsapp(client, body).status_code, [body] * 8)
    assert answers == [200] * 8
    work()
    assert len(graph.texts_to(JANA)) == 1


def test_webhooks_arriving_together_are_each_stored_once(client, rt, work, graph) -> None:
    """Overlapping webhooks share Redis round trips (group commit); each still learns whether its
    own message was new, a copy delivered alongside counts as a duplicate, and every partner
    gets one answer."""
    partners = [f"4915100000{n:02d}" for n in range(12)]
    bodies = [envelope(text(p, "received", message_id=f"wamid.together.{p}")) for p in partners] * 2
    answers = at_once(lambda body: post_whatsapp(client, body), bodies)
    assert [a.status_code for a in answers] == [200] * 24
    assert sum(a.get_json()["messages"] for a in answers) == 12
    work()
    assert sorted(set(m["to"] for m in graph.sent)) == sorted(partners)
    assert all(len(graph.texts_to(p)) == 1 for p in partners)


def test_store_down_answers_503_so_meta_retries(settings) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    app = create_app(rt=runtime.build(settings, connection=dead), start_worker=False)
    answer = post_whatsapp(app.test_client(), envelope(text(JANA, "hello")))
    assert answer.status_code == 503
    assert "Traceback" not in answer.get_data(as_text=True)
    together = at_once(lambda body: post_whatsapp(app.test_client(), body),
                            [envelope(text(JANA, f"hello {n}")) for n in range(6)])
    assert [a.status_code for a in together] == [503] * 6  # a shared round trip fails each of them


def test_statuses_never_trigger_a_reply(client, work, graph) -> None:
    statuses = [{"id": "wamid.out1", "status": s, "timestamp": "1700000000", "recipient_id": JANA}
                for s in ("sent", "delivered", "read", "failed")]
    assert post_whatsapp(client, envelope(statuses=statuses)).status_code == 200
    work()
    assert graph.sent == []


def test_statuses_only_move_forward(client, rt, work) -> None:
    def status(name: str) -> dict[str, str]:
        return {"id": "wamid.out2", "status": name, "timestamp": "1700000000", "recipient_id": JANA}
    post_whatsapp(client, envelope(statuses=[status("read")]))
    post_whatsapp(client, envelope(statuses=[status("delivered"), status("sent")]))
    work()
    assert rt.redis.hget(keyspace.message_key("wamid.out2"), "status") == b"read"


def test_a_sender_known_only_by_user_id_is_answered(client, work, graph) -> None:
    message = {"from_user_id": "US.13491208655302741918", "id": "wamid.bsuid", "timestamp": "1700000000",
               "type": "text", "text": {"body": "hi"}}
    assert post_whatsapp(client, envelope(message)).status_code == 200
    work()
    assert graph.texts_to("US.13491208655302741918")


def test_a_changed_number_keeps_being_the_same_contact(client, work, graph) -> None:
    change = {"from": JANA, "id": "wamid.sys", "timestamp": "1700000000", "type": "system",
              "system": {"body": "changed", "wa_id": "4915199999999", "type": "user_changed_number"}}
    post_whatsapp(client, envelope(change))
    work()
    post_whatsapp(client, envelope(text("4915199999999", "help")))
    work()
    assert graph.texts_to("4915199999999") == [say.text("de", "help")], "Jana's help, in her German"


def test_an_unknown_number_learns_nothing(client, work, graph) -> None:
    post_whatsapp(client, envelope(text(STRANGER, "status CASE-1001")))
    work()
    [reply] = graph.texts_to(STRANGER)
    assert "not registered" in reply and "CASE" not in reply


def test_messages_of_one_contact_are_handled_in_whatsapp_time_order(client, rt, work, graph) -> None:
    now = int(time.time())
    later, earlier = text(JANA, "second", timestamp=now), text(JANA, "first", timestamp=now - 60)
    post_whatsapp(client, envelope(later, earlier))
    work()
    replied_to = [p["context"]["message_id"] for p in graph.sent]
    assert replied_to == [earlier["id"], later["id"]]
