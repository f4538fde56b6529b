"""The reply path at its leanest: what one answered message costs in trips to Redis and calls to
Graph, counted (not timed), and the kept-alive connection that carries the sends."""
from __future__ import annotations

import contextlib
import http.server
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis.exceptions

from app import drain, httpsession, keyspace, queues, ready
from app.whatsapp import errors
from app.whatsapp.graph import GraphTransport
from conversations import threads
from tests.chat import Chat
from tests.trips import Trips
from tests.helpers import envelope, post_whatsapp, text

MARIA = "4915123456789"


def test_an_answered_message_costs_two_trips_to_redis_and_two_calls_to_graph(client, rt, work, graph,
                                                                             monkeypatch) -> None:  # type: ignore[no-untyped-def]
    maria = Chat(client, work, graph, MARIA)
    maria.says("my cases")  # her conversation exists, as it does for anyone who wrote before
    question = text(MARIA, "help")
    post_whatsapp(client, envelope(question))
    sent_before, read_before = len(graph.sent), len(graph.read_receipts)
    trips = Trips(monkeypatch)
    assert drain.drain_contact(MARIA) == 1
    # Taking it (with the lock, her conversation and ids, and the reply's moments: its first try
    # needs no claim), saving everything with the inbox step to the next message: two.
    assert trips.count == 2
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


class _Raw(socketserver.BaseRequestHandler):
    """A server that answers each request with `answer`, whatever it is, then closes if told."""

    answer = b""
    close = False

    def handle(self) -> None:
        while self.request.recv(65536):
            self.request.sendall(type(self).answer)
            if type(self).close:
                return


@contextlib.contextmanager
def raw_server(answer: bytes, close: bool = False) -> Iterator[str]:
    handler = type("Handler", (_Raw,), {"answer": answer, "close": close})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v23.0/1/messages"
    finally:
        server.shutdown()
        server.server_close()


def test_a_chunked_answer_is_read_whole_and_its_connection_kept() -> None:
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\n{\"ok\"\r\n6\r\n: true\r\n1\r\n}\r\n0\r\n\r\n")
    with raw_server(answer) as url:
        connection = httpsession.KeptAlive(url, 1, 5)
        assert connection.post(b"{}", {}) == (200, b'{"ok": true}')
        assert connection.post(b"{}", {}) == (200, b'{"ok": true}')


def test_an_answer_without_a_length_runs_until_the_server_closes() -> None:
    with raw_server(b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n{\"error\": 1}", close=True) as url:
        assert httpsession.KeptAlive(url, 1, 5).post(b"{}", {}) == (500, b'{"error": 1}')


def test_an_answer_cut_short_or_not_http_is_an_unreachable_graph_not_a_crash() -> None:
    with raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"mess", close=True) as url:
        with pytest.raises(errors.Unreachable):
            GraphTransport(url.rsplit("/1/messages", 1)[0], "1", "token").post({"to": "1"})
    with raw_server(b"SMTP ready\r\n\r\n", close=True) as url:
        with pytest.raises(errors.Unreachable):
            GraphTransport(url.rsplit("/1/messages", 1)[0], "1", "token").post({"to": "1"})


class _Tunnel(socketserver.BaseRequestHandler):
    """An HTTP proxy that only tunnels (CONNECT), as corporate proxies in front of Graph do."""

    asked: list[bytes] = []

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.request.recv(4096)
        type(self).asked.append(head.split(b"\r\n", 1)[0])
        host, port = head.split()[1].decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True).start()
        _pipe(self.request, upstream)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)


def test_sends_go_through_the_proxy_the_environment_names(server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url, handler = server
    proxy = socketserver.ThreadingTCPServer(("127.0.0.1", 0), type("Proxy", (_Tunnel,), {"asked": []}))
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    try:
        connection = httpsession.KeptAlive(url, 1, 5)
        for _ in range(3):
            assert connection.post(b"{}", {})[0] == 200
        port = url.split(":")[2].split("/")[0]
        assert proxy.RequestHandlerClass.asked == [f"CONNECT 127.0.0.1:{port} HTTP/1.0".encode()]
        assert len(handler.connections) == 1, "one tunnel, kept alive"
    finally:
        proxy.shutdown()
        proxy.server_close()


def _drainer_running(rt, monkeypatch) -> tuple[threading.Thread, list[int]]:  # type: ignore[no-untyped-def]
    """The drainer the webhook just queued, taken off its queue and run as a worker process runs
    it (not embedded: lingering), in a thread; with what it returns."""
    monkeypatch.setattr(rt, "settings", rt.settings.replace(redis_url="redis://a-deployment"))
    queue = rt.queues.by_name[queues.INBOUND]
    job = queue.fetch_job(queue.pop_job_id())
    assert job.func_name == queues.DRAIN_READY
    handled: list[int] = []
    drainer = threading.Thread(target=lambda: handled.append(drain.drain_ready(*job.args)))
    drainer.start()
    return drainer, handled


def _until(condition: Any, seconds: float = 5) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "it did not happen in time"
        time.sleep(0.02)


def test_a_drainer_with_nothing_left_lingers_and_the_next_message_needs_no_job(client, rt, graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """At a steady few hundred messages a second each one found the drainers gone and queued a job,
    whose RQ bookkeeping cost more CPU than its answer. Now a drainer with nothing left waits a
    moment, and the next message's webhook nudges it rather than queue another job."""
    monkeypatch.setattr(ready, "LINGER_SECONDS", 30)
    monkeypatch.setattr(ready, "TURN_SECONDS", 3)
    first, second = text(MARIA, "help"), text(MARIA, "my cases", message_id="wamid.second", timestamp=int(time.time()) + 1)
    post_whatsapp(client, envelope(first))
    drainer, handled = _drainer_running(rt, monkeypatch)
    _until(lambda: any(p.get("context", {}).get("message_id") == first["id"] for p in graph.sent))
    post_whatsapp(client, envelope(second))
    assert rt.queues.by_name[queues.INBOUND].count == 0, "no job: the lingering drainer was nudged"
    _until(lambda: any(p.get("context", {}).get("message_id") == second["id"] for p in graph.sent))
    drainer.join(10)  # its turn ends while it lingers: it lets go then, not after LINGER_SECONDS
    assert handled == [2] and not drainer.is_alive()
    assert rt.redis.zcard(keyspace.DRAINERS) == 0 and rt.redis.zcard(keyspace.LINGERING) == 0
    assert not rt.redis.exists(keyspace.NUDGES)


def test_a_drainer_does_not_linger_while_other_jobs_wait_for_its_worker(client, rt, graph, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ready, "LINGER_SECONDS", 30)
    post_whatsapp(client, envelope(text(MARIA, "help")))
    rt.queues.enqueue(queues.WRITES, queues.WRITE, "update_case", [], "k")  # a Trading Grid write waits
    drainer, handled = _drainer_running(rt, monkeypatch)
    drainer.join(10)
    assert handled == [1] and not drainer.is_alive(), "the worker went on to the write"
    assert rt.redis.zcard(keyspace.DRAINERS) == 0
    post_whatsapp(client, envelope(text(MARIA, "my cases", message_id="wamid.later", timestamp=int(time.time()) + 1)))
    assert rt.queues.by_name[queues.INBOUND].count == 1, "the next message queues a drainer of its own"
