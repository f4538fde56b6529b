"""The two webhooks' notifications, answered in front of Flask (`Receiver`).

Why they skip Flask: they are the endpoints under load, one request for every message a partner
sends and every event Trading Grid raises. Flask's machinery around a request (contexts, routing,
hooks, signals, Response objects) costs more CPU than checking, parsing and storing one, so
`Receiver` hands the WSGI environ of such a request to its webhook's `receive` and gives every
other request to Flask. Its answers are JSON, as the rest of the app's.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import orjson

from app import metrics

MAX_BODY_BYTES = 1024 * 1024  # a body past this is refused 413

log = logging.getLogger(__name__)

_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[int, dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A webhook answered here: its POST by `receive(environ, body)`, OPTIONS with `allow`, the
    methods in `to_flask` by Flask (the WhatsApp handshake), any other 405."""
    path: str
    receive: Callable[[dict[str, Any], bytes], Answer]
    allow: str
    to_flask: frozenset[str] = frozenset()


class Receiver:
    """WSGI middleware answering its endpoints' requests; everything else goes to `app`."""

    def __init__(self, app: WSGIApp, endpoints: Iterable[Endpoint]) -> None:
        self._app = app
        self._endpoints = {endpoint.path: endpoint for endpoint in endpoints}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        endpoint = self._endpoints.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD", "")
        if endpoint is None or method in endpoint.to_flask:
            return self._app(environ, start_response)
        if method == "POST":
            try:
                status, answer = _posted(endpoint, environ)
            except Exception:  # noqa: BLE001 - the caller gets a plain 500, the log the details
                log.exception("unhandled error on POST %s", endpoint.path)
                status, answer = 500, {"error": "internal error"}
        elif method == "OPTIONS":
            status, answer = 200, {"allow": endpoint.allow}
        else:
            status, answer = 405, {"error": "The method is not allowed for the requested URL."}
        body = orjson.dumps(answer)
        metrics.labelled(metrics.REQUESTS, endpoint.path, str(status)).inc()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response(_STATUS_LINES[status], headers if method == "POST" else [*headers, ("Allow", endpoint.allow)])
        return [body]


def _posted(endpoint: Endpoint, environ: dict[str, Any]) -> Answer:
    """The body read whole (or the answer saying why not), then the endpoint's answer to it."""
    try:
        raw = _body(environ)
    except ValueError:
        return 400, {"error": "Content-Length is not a length"}
    except TimeoutError:  # the server's read timeout (app.serving): a stalled body
        log.warning("%s: the body stalled; answered 408", endpoint.path)
        return 408, {"error": "the request body did not arrive in time"}
    if raw is None:
        return 413, {"error": f"body over {MAX_BODY_BYTES} bytes"}
    return endpoint.receive(environ, raw)


def _body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or None when it is over MAX_BODY_BYTES; ValueError when Content-Length is
    not a length. Read to Content-Length; without one, to the end of a stream the server ends
    itself (chunked), else there is none."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        size = int(length)
        if size < 0:
            raise ValueError(length)
        return stream.read(size) if size <= MAX_BODY_BYTES else None
    if not environ.get("wsgi.input_terminated"):
        return b""
    raw = stream.read(MAX_BODY_BYTES + 1)
    return raw if len(raw) <= MAX_BODY_BYTES else None

