"""`/webhooks/tradinggrid`: signed, schema-checked events, each accepted once."""
from __future__ import annotations

import logging
import time

import redis
from flask import Blueprint, current_app, request

from app import ingest, jsonsafe, signatures
from app.events import schema

log = logging.getLogger(__name__)
bp = Blueprint("tradinggrid", __name__)


@bp.post("/webhooks/tradinggrid")
def receive() -> tuple[dict[str, object], int]:
    rt = current_app.extensions["tgwa"]
    raw = request.get_data(cache=False)
    if not signatures.tradinggrid_valid(rt.settings.trading_grid_events_secret, raw,
                                        request.headers.get("X-TG-Timestamp"),
                                        request.headers.get("X-TG-Signature"), time.time()):
        return {"error": "missing, wrong or expired X-TG-Signature / X-TG-Timestamp"}, 401
    try:
        event = jsonsafe.loads(raw)
    except ValueError:
        return {"error": "body is not JSON"}, 400
    problems = schema.errors(event)
    if problems:
        return {"errors": problems}, 422
    try:
        new = ingest.record_event(rt, event)
    except redis.RedisError as exc:
        log.error("tradinggrid webhook: store unavailable (%s); answering 503", type(exc).__name__)
        return {"error": "temporarily unavailable"}, 503
    if new:
        return {"event_id": event["id"], "status": "accepted"}, 202
    return {"event_id": event["id"], "status": "duplicate"}, 200
