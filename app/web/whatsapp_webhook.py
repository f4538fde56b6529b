"""`/webhooks/whatsapp`: Meta's verification handshake and its notifications."""
from __future__ import annotations

import json
import logging

import redis
from flask import Blueprint, Response, current_app, request

from app import ingest, signatures
from app.runtime import Runtime
from app.whatsapp.inbound import parse_notification

log = logging.getLogger(__name__)
bp = Blueprint("whatsapp", __name__)


def _rt() -> Runtime:
    return current_app.extensions["tgwa"]


@bp.get("/webhooks/whatsapp")
def verify() -> Response:
    token = _rt().settings.whatsapp_verify_token
    given = request.args.get("hub.verify_token", "")
    if request.args.get("hub.mode") == "subscribe" and token and signatures.hmac.compare_digest(
            given.encode(), token.encode()):
        return Response(request.args.get("hub.challenge", ""), 200, mimetype="text/plain")
    return Response("forbidden", 403, mimetype="text/plain")


@bp.post("/webhooks/whatsapp")
def receive() -> Response | tuple[dict[str, object], int]:
    rt = _rt()
    raw = request.get_data(cache=False)
    if not signatures.whatsapp_valid(rt.settings.whatsapp_app_secret, raw,
                                     request.headers.get("X-Hub-Signature-256")):
        return {"error": "missing or wrong X-Hub-Signature-256"}, 403
    try:
        body = json.loads(raw)
    except ValueError:
        return {"error": "body is not JSON"}, 400
    note = parse_notification(body)
    for reason in note.ignored:
        log.info("whatsapp webhook: ignored %s", reason)
    for error in note.errors:
        log.warning("whatsapp webhook: Meta reported error %s: %s", error.get("code"), error.get("title"))
    try:
        recorded = ingest.record_whatsapp(rt, note)
    except redis.RedisError as exc:
        log.error("whatsapp webhook: store unavailable (%s); answering 503 so Meta retries", type(exc).__name__)
        return {"error": "temporarily unavailable"}, 503
    # The hot path: plain json.dumps, not Flask's JSON provider, which costs more than the body.
    return Response(json.dumps({"status": "ok", "messages": recorded, "statuses": len(note.statuses)}),
                    200, mimetype="application/json")
