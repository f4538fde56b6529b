"""HTTP connections for the services tgwa calls (Graph API, Trading Grid, OpenText)."""
from __future__ import annotations

import http.client
import select
import ssl
import threading
import urllib.parse

import certifi
import requests


def for_host(url: str) -> requests.Session:
    """A keep-alive session that reads proxy settings (HTTPS_PROXY, NO_PROXY) from the environment
    once, for the one service it talks to, rather than on every request as requests otherwise does."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    session.trust_env = False
    return session


class KeptAlive:
    """POSTs to one URL over a connection kept open per thread, on the standard library's
    http.client: the hot path of every reply and broadcast, where urllib3's pool costs twice the
    CPU per request (bench/load_bench.py). A connection the server closed while idle is seen
    before it is used again and opened anew; a request that fails once sent is never repeated
    here (a send is not idempotent): the caller's error handling decides."""

    def __init__(self, url: str, connect_timeout: float, read_timeout: float):
        parts = urllib.parse.urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port or (443 if self._https else 80)
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._proxy = urllib.parse.urlsplit(requests.utils.get_environ_proxies(url).get(parts.scheme, "") or "")
        self._timeouts = (connect_timeout, read_timeout)
        self._context = ssl.create_default_context(cafile=certifi.where()) if self._https else None
        self._local = threading.local()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, body). Raises OSError or http.client.HTTPException when the service could not be reached."""
        connection = self._connection()
        try:
            connection.request("POST", self.path, body, headers)
            answer = connection.getresponse()
            data = answer.read()
        except BaseException:
            connection.close()
            self._local.connection = None
            raise
        if answer.will_close:
            connection.close()
        return answer.status, data

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
