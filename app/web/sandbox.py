"""The sandbox (SANDBOX=1 only): what the bot 'sent', kept in the outbox instead of Meta."""
from __future__ import annotations

import json

from flask import Blueprint, current_app

from app import store

bp = Blueprint("sandbox", __name__)


@bp.get("/sandbox")
def outbox() -> dict[str, object]:
    rt = current_app.extensions["tgwa"]
    sent = [json.loads(raw) for raw in rt.redis.lrange(store.SANDBOX_OUTBOX, -200, -1)]
    return {"outbox": sent}
