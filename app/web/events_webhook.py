"""`/webhooks/tradinggrid`: signed, schema-checked events, each accepted once, answered in front of
Flask (app.web.fastpath)."""
from __future__ import annotations

import functools
import logging
import time
from typing import Any

import redis

from app import ingest, jsonsafe, signatures
from app.events import schema
from app.runtime import Runtime
from app.web import fastpath

PATH = "/webhooks/tradinggrid"

log = logging.getLogger(__name__)


def endpoint(rt: Runtime) -> fastpath.Endpoint:
    return fastpath.Endpoint(PATH, functools.partial(_receive, rt), "OPTIONS, POST")


def _receive(rt: Runtime, environ: dict[str, Any], raw: bytes) -> fastpath.Answer:
    if not signatures.tradinggrid_valid(rt.settings.trading_grid_events_secret, raw,
                                        environ.get("HTTP_X_TG_TIMESTAMP"), environ.get("HTTP_X_TG_SIGNATURE"),
                                        time.time()):
        return 401, {"error": "missing, wrong or expired X-TG-Signature / X-TG-Timestamp"}
    try:
        event = jsonsafe.loads(raw)
    except ValueError:
        return 400, {"error": "body is not JSON"}
    problems = schema.errors(event)
    if problems:
        return 422, {"errors": problems}
    try:
        new = ingest.record_webhook_event(rt, event)
    except redis.RedisError as exc:
        log.error("tradinggrid webhook: store unavailable (%s); answering 503", type(exc).__name__)
        return 503, {"error": "temporarily unavailable"}
    if new:
        return 202, {"event_id": event["id"], "status": "accepted"}
    return 200, {"event_id": event["id"], "status": "duplicate"}
