"""`/ops`: what an operator watches: conversations by flow and state, waiting inboxes, parked
work, broadcasts and their delivery counts. Behind OPS_TOKEN (as a Bearer token or `?token=`);
in production without OPS_TOKEN it is not served at all."""
from __future__ import annotations

import hmac
import json
from collections import Counter
from typing import Any

from flask import Blueprint, abort, current_app, request

from app import notifications, parked, store
from app.runtime import Runtime

bp = Blueprint("ops_page", __name__)
SCAN_BATCH = 500


def _allowed(rt: Runtime) -> bool:
    token = rt.settings.ops_token
    if not token:
        return not rt.settings.production
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or request.args.get("token", "")
    return hmac.compare_digest(given.encode(), token.encode())


@bp.get("/ops")
def overview() -> dict[str, Any]:
    rt: Runtime = current_app.extensions["tgwa"]
    if not _allowed(rt):
        abort(404 if rt.settings.production and not rt.settings.ops_token else 401)
    return {"conversations": conversations(rt), "waiting_contacts": rt.redis.scard(store.PENDING_CONTACTS),
            "parked": parked.items(rt.redis), "broadcasts": broadcasts(rt)}


def conversations(rt: Runtime) -> dict[str, dict[str, int]]:
    """Open and finished threads, counted by flow and state."""
    counts: dict[str, Counter[str]] = {}
    for key in rt.redis.scan_iter(match=f"{store.PREFIX}:{{c:*}}:threads", count=SCAN_BATCH):
        for raw in rt.redis.hvals(key):
            thread = json.loads(raw)
            counts.setdefault(thread["flow"], Counter())[thread["state"]] += 1
    return {flow: dict(states) for flow, states in sorted(counts.items())}


def broadcasts(rt: Runtime) -> list[dict[str, Any]]:
    out = []
    for key in rt.redis.scan_iter(match=store.broadcast_key("*"), count=SCAN_BATCH):
        event_id = key.decode().split(":", 2)[2]
        out.append({"event_id": event_id, **notifications.progress(rt, event_id)})
    return sorted(out, key=lambda b: b["event_id"])
