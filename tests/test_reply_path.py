"""The reply path at its leanest: what one answered message costs in trips to Redis and calls to
Graph, counted (not timed), and the kept-alive connection that carries the sends."""
from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis.client
import redis.exceptions

from app import drain, httpsession, keyspace, redisline
from conversations import threads
from tests.chat import Chat
from tests.helpers import envelope, post_whatsapp, text

MARIA = "4915123456789"


class Trips:
    """Round trips to Redis: a pipeline sent, a batch sent by a Line, or a command sent on its own."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        execute, command, send = redis.client.Pipeline.execute, redis.Redis.execute_command, redisline.Line.send

        def counted_send(line: Any, commands: Any) -> Any:
            self.count += 1
            return send(line, commands)

        def counted_execute(pipe: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += bool(pipe.command_stack)
            return execute(pipe, *args, **kwargs)

        def counted_command(client: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return command(client, *args, **kwargs)

        monkeypatch.setattr(redis.client.Pipeline, "execute", counted_execute)
        monkeypatch.setattr(redis.Redis, "execute_command", counted_command)
        monkeypatch.setattr(redisline.Line, "send", counted_send)


def test_an_answered_message_costs_three_trips_to_redis_and_two_calls_to_graph(client, rt, work, graph,
                                                                               monkeypatch) -> None:  # type: ignore[no-untyped-def]
    maria = Chat(client, work, graph, MARIA)
    maria.says("my cases")  # her conversation exists, as it does for anyone who wrote before
    question = text(MARIA, "help")
    post_whatsapp(client, envelope(question))
    sent_before, read_before = len(graph.sent), len(graph.read_receipts)
    trips = Trips(monkeypatch)
    assert drain.drain_contact(MARIA) == 1
    # Taking it (with the lock, her conversation and ids), claiming the reply with its moment,
    # saving everything with the inbox step to the next message: three, whatever the message.
    assert trips.count == 3
    assert len(graph.sent) == sent_before + 1 and graph.sent[-1]["context"]["message_id"] == question["id"]
    assert graph.read_receipts[read_before:] == [question["id"]]
    assert rt.redis.get(keyspace.contact_lock_key(MARIA)) is None, "let go in the last trip"


def test_messages_answered_together_are_marked_read_once_for_all(client, rt, work, graph) -> None:  # type: ignore[no-untyped-def]
    maria = Chat(client, work, graph, MARIA)
    maria.says("hello")
    ids = [text(MARIA, body)["id"] for body in ("help", "my cases", "status CASE-1001")]
    for n, (message_id, body) in enumerate(zip(ids, ("help", "my cases", "status CASE-1001"))):
        post_whatsapp(client, envelope(text(MARIA, body, message_id=message_id, timestamp=maria.last_ts + n + 1)))
    read_before = len(graph.read_receipts)
    assert drain.drain_contact(MARIA) == 3
    assert [p["context"]["message_id"] for p in graph.sent[-3:]] == ids, "each answered, in order"
    # Meta marks every message before the one it is told of: one call says all three were read.
    assert graph.read_receipts[read_before:] == [ids[-1]]


def test_a_turn_failing_after_its_reply_left_keeps_the_record_so_its_retry_does_not_send_again(
        client, rt, work, graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    maria = Chat(client, work, graph, MARIA)
    maria.says("hello")
    question = text(MARIA, "help")
    post_whatsapp(client, envelope(question))
    failing = {"on": True}
    real_save = threads.save

    def save_fails(rt_: Any, conversation: Any) -> None:
        if failing["on"]:  # a passing failure at the end of the turn, after the reply left
            raise redis.exceptions.ConnectionError("Redis went away")
        real_save(rt_, conversation)

    monkeypatch.setattr(threads, "save", save_fails)
    drain.drain_contact(MARIA)
    replies = [p for p in graph.sent if p.get("context", {}).get("message_id") == question["id"]]
    assert len(replies) == 1
    failing["on"] = False
    rt.redis.delete(keyspace.retry_key(MARIA))  # the backoff's time has come
    drain.drain_contact(MARIA)
    replies = [p for p in graph.sent if p.get("context", {}).get("message_id") == question["id"]]
    assert len(replies) == 1, "sent once: the retry found the record the failed turn kept"
    assert rt.redis.zcard(keyspace.inbox_key(MARIA)) == 0, "and the message was handled"


class _Counting(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: list[int] = []
    close_after_answer = False

    def setup(self) -> None:
        super().setup()
        type(self).connections.append(1)

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"messages":[{"id":"wamid.x"}]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if type(self).close_after_answer:  # closes without saying so: the client finds out later
            self.close_connection = True

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Counting]]]:
    handler = type("Handler", (_Counting,), {"connections": [], "close_after_answer": False})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v23.0/1/messages", handler
    httpd.shutdown()


def test_sends_share_one_kept_alive_connection(server) -> None:  # type: ignore[no-untyped-def]
    url, handler = server
    connection = httpsession.KeptAlive(url, 1, 5)
    for _ in range(5):
        assert connection.post(b"{}", {"Content-Type": "application/json"}) == (200, b'{"messages":[{"id":"wamid.x"}]}')
    assert len(handler.connections) == 1


def test_a_connection_the_server_closed_while_idle_is_opened_anew(server) -> None:  # type: ignore[no-untyped-def]
    url, handler = server
    handler.close_after_answer = True
    connection = httpsession.KeptAlive(url, 1, 5)
    for _ in range(3):
        assert connection.post(b"{}", {})[0] == 200
        time.sleep(0.3)  # idle: the server's close arrives meanwhile
    assert len(handler.connections) == 3, "each closed one seen before it was used again"
