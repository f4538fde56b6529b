"""`/webhooks/whatsapp`: Meta's verification handshake (a Flask view) and its notifications
(checked, parsed and stored in front of Flask: app.web.fastpath)."""
from __future__ import annotations

import functools
import logging
from typing import Any

import redis
from flask import Blueprint, Response, current_app, request

from app import ingest, jsonsafe, signatures
from app.runtime import Runtime
from app.web import fastpath
from app.whatsapp.inbound import parse_notification

PATH = "/webhooks/whatsapp"
ALLOWED = "GET, HEAD, OPTIONS, POST"

log = logging.getLogger(__name__)
bp = Blueprint("whatsapp", __name__)


@bp.get(PATH)
def verify() -> Response:
    token = current_app.extensions["tgwa"].settings.whatsapp_verify_token
    given = request.args.get("hub.verify_token", "")
    if request.args.get("hub.mode") == "subscribe" and token and signatures.hmac.compare_digest(
            given.encode(), token.encode()):
        return Response(request.args.get("hub.challenge", ""), 200, mimetype="text/plain")
    return Response("forbidden", 403, mimetype="text/plain")


def endpoint(rt: Runtime) -> fastpath.Endpoint:
    """Meta's notifications, answered in front of Flask (app.web.fastpath); the handshake goes to
    the view above."""
    return fastpath.Endpoint(PATH, functools.partial(_receive, rt), ALLOWED, frozenset({"GET", "HEAD"}))


def _receive(rt: Runtime, environ: dict[str, Any], raw: bytes) -> fastpath.Answer:
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
