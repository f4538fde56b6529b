"""`/webhooks/whatsapp`: Meta's verification handshake (a Flask view) and its notifications
(`Receiver`, in front of Flask).

Why the notifications skip Flask: they are the endpoint under load, one request for every message
a partner sends. Flask's machinery around a request (contexts, routing, hooks, signals, Response
objects) costs more CPU than checking, parsing and storing a notification, so `Receiver` does that
on the WSGI environ itself and gives every other request, the handshake included, to Flask.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import orjson
import redis
from flask import Blueprint, Response, current_app, request

from app import ingest, jsonsafe, metrics, signatures
from app.runtime import Runtime
from app.whatsapp.inbound import parse_notification

PATH = "/webhooks/whatsapp"
ALLOWED = "GET, HEAD, OPTIONS, POST"
MAX_BODY_BYTES = 1024 * 1024  # a body past this is refused 413

log = logging.getLogger(__name__)
bp = Blueprint("whatsapp", __name__)

_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@bp.get(PATH)
def verify() -> Response:
    token = current_app.extensions["tgwa"].settings.whatsapp_verify_token
    given = request.args.get("hub.verify_token", "")
    if request.args.get("hub.mode") == "subscribe" and token and signatures.hmac.compare_digest(
            given.encode(), token.encode()):
        return Response(request.args.get("hub.challenge", ""), 200, mimetype="text/plain")
    return Response("forbidden", 403, mimetype="text/plain")


class Receiver:
    """WSGI middleware: answers every request to PATH but GET and HEAD (the handshake, which go
    to Flask with everything else). Its answers are JSON, as the rest of the app's."""

    def __init__(self, app: WSGIApp, rt: Runtime) -> None:
        self._app = app
        self._rt = rt

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != PATH or method in ("GET", "HEAD"):
            return self._app(environ, start_response)
        if method == "POST":
            try:
                status, answer = self._receive(environ)
            except Exception:  # noqa: BLE001 - the caller gets a plain 500, the log the details
                log.exception("unhandled error on POST %s", PATH)
                status, answer = 500, {"error": "internal error"}
        elif method == "OPTIONS":
            status, answer = 200, {"allow": ALLOWED}
        else:
            status, answer = 405, {"error": "The method is not allowed for the requested URL."}
        body = orjson.dumps(answer)
        metrics.labelled(metrics.REQUESTS, PATH, str(status)).inc()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response(_STATUS_LINES[status], headers if method == "POST" else [*headers, ("Allow", ALLOWED)])
        return [body]

    def _receive(self, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        rt = self._rt
        try:
            raw = _body(environ)
        except ValueError:
            return 400, {"error": "Content-Length is not a length"}
        except TimeoutError:  # the server's read timeout (app.serving): a stalled body
            log.warning("whatsapp webhook: the body stalled; answered 408")
            return 408, {"error": "the request body did not arrive in time"}
        if raw is None:
            return 413, {"error": f"body over {MAX_BODY_BYTES} bytes"}
        if not signatures.whatsapp_valid(rt.settings.whatsapp_app_secret, raw,
                                         environ.get("HTTP_X_HUB_SIGNATURE_256")):
            return 403, {"error": "missing or wrong X-Hub-Signature-256"}
        try:
            body = jsonsafe.loads(raw)
        except ValueError:
            return 400, {"error": "body is not JSON"}
        note = parse_notification(body)
        for reason in note.ignored:
            log.info("whatsapp webhook: ignored %s", reason)
        for error in note.errors:
            log.warning("whatsapp webhook: Meta reported error %s: %s", error.get("code"), error.get("title"))
        try:
            recorded = ingest.record_whatsapp(rt, note)
        except redis.RedisError as exc:
            log.error("whatsapp webhook: store unavailable (%s); answering 503 so Meta retries", type(exc).__name__)
            return 503, {"error": "temporarily unavailable"}
        return 200, {"status": "ok", "messages": recorded, "statuses": len(note.statuses)}


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

