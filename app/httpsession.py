"""HTTP connections for the services tgwa calls (Graph API, Trading Grid, OpenText)."""
from __future__ import annotations

import http.client
import select
import ssl
import threading
import urllib.parse

import certifi
import httptools
import requests


def for_host(url: str) -> requests.Session:
    """A keep-alive session that reads proxy settings (HTTPS_PROXY, NO_PROXY) from the environment
    once, for the one service it talks to, rather than on every request as requests otherwise does."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    session.trust_env = False
    return session


class KeptAlive:
    """POSTs to one URL over a connection kept open per thread: the hot path of every reply and
    broadcast. The standard library's http.client opens the connection (TLS, a proxy's tunnel);
    each request is then written in one send and its answer read by llhttp (httptools, the parser
    uvicorn uses): http.client's email-package header parsing cost more than the rest of a send
    together, and urllib3's pool twice as much again (bench/load_bench.py). A connection the
    server closed while idle is seen before it is used again and opened anew; a request that fails
    once sent is never repeated here (a send is not idempotent): the caller's error handling decides."""

    def __init__(self, url: str, connect_timeout: float, read_timeout: float):
        parts = urllib.parse.urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port or (443 if self._https else 80)
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._proxy = urllib.parse.urlsplit(requests.utils.get_environ_proxies(url).get(parts.scheme, "") or "")
        self._timeouts = (connect_timeout, read_timeout)
        self._context = ssl.create_default_context(cafile=certifi.where()) if self._https else None
        self._local = threading.local()
        host = self._host if parts.port in (None, 443 if self._https else 80) else f"{self._host}:{parts.port}"
        self._head = f"POST {self.path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n"

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, body). Raises OSError or http.client.HTTPException when the service could not be reached."""
        connection = self._connection()
        request = "".join([self._head, *(f"{name}: {value}\r\n" for name, value in headers.items()),
                           f"Content-Length: {len(body)}\r\n\r\n"]).encode("latin-1") + body
        answer = _Answer()
        parser = answer.parser = httptools.HttpResponseParser(answer)
        try:
            sock = connection.sock
            assert sock is not None
            sock.sendall(request)
            while not answer.complete:
                data = sock.recv(65536)
                if not data:
                    if answer.headers_read and not answer.keep_alive:
                        break  # no length given: the body runs until the server closes
                    raise http.client.RemoteDisconnected("the connection closed before the answer was complete")
                parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._drop(connection)
            raise http.client.HTTPException(f"an answer that is not HTTP: {exc}") from None
        except BaseException:
            self._drop(connection)
            raise
        if not answer.keep_alive:
            self._drop(connection)
        return parser.get_status_code(), b"".join(answer.body)

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connection = None

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and connection.sock is not None and not _dropped(connection.sock):
            return connection
        if connection is not None:
            connection.close()
        connection = self._open()
        self._local.connection = connection
        return connection

    def _open(self) -> http.client.HTTPConnection:
        host, port = (self._proxy.hostname, self._proxy.port or 80) if self._proxy.hostname else (self._host, self._port)
        connection = (http.client.HTTPSConnection(host, port, timeout=self._timeouts[0], context=self._context)
                      if self._https else http.client.HTTPConnection(host, port, timeout=self._timeouts[0]))
        if self._proxy.hostname:
            connection.set_tunnel(self._host, self._port)
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(self._timeouts[1])
        return connection


def _dropped(sock: object) -> bool:
    """An idle kept-alive socket that is readable was closed by the server (or sent what it should not)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _Answer:
    """What llhttp calls back with as it reads one answer (whether the connection stays open is
    asked once its headers are read: once the answer is complete, the parser has forgotten)."""

    __slots__ = ("parser", "body", "headers_read", "keep_alive", "complete")

    def __init__(self) -> None:
        self.parser: httptools.HttpResponseParser | None = None
        self.body: list[bytes] = []
        self.headers_read = self.keep_alive = self.complete = False

    def on_headers_complete(self) -> None:
        self.headers_read = True
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
