"""Liveness, readiness, Prometheus metrics and the OpenAPI description of the endpoints."""
from __future__ import annotations

from pathlib import Path

import redis
from flask import Blueprint, Response, current_app

from app import metrics
from app.tradinggrid.port import TradingGridError

bp = Blueprint("ops", __name__)
OPENAPI = Path(__file__).resolve().parents[1] / "openapi.yaml"


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, object], int]:
    rt = current_app.extensions["tgwa"]
    failed: dict[str, str] = {}
    connections = {"redis": rt.redis}
    if rt.queues.connection is not rt.redis:
        connections["redis_queue"] = rt.queues.connection  # REDIS_QUEUE_URL
    for name, connection in connections.items():
        try:
            connection.ping()
        except redis.RedisError as exc:
            failed[name] = type(exc).__name__
    try:
        rt.tradinggrid.ping()
    except (TradingGridError, OSError) as exc:
        failed["tradinggrid"] = getattr(exc, "reason", type(exc).__name__)
    if failed:
        return {"status": "unavailable", "failed": failed}, 503
    return {"status": "ready"}, 200


@bp.get("/openapi.yaml")
def openapi() -> Response:
    return Response(OPENAPI.read_bytes(), 200, content_type="application/yaml")


@bp.get("/metrics")
def prometheus() -> Response:
    body, content_type = metrics.render()
    return Response(body, 200, content_type=content_type)
