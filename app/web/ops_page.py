"""`/ops`: what an operator watches: conversations by flow and state, notifications and broadcasts
with their delivery counts, alerts awaiting acknowledgment, parked work (with retry), and who is
inside the 24-hour window. Behind OPS_TOKEN (as a Bearer token or `?token=`);
in production without OPS_TOKEN it is not served at all."""
from __future__ import annotations

import hmac
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from app import delivery, notifications, parked, store
from app.runtime import Runtime
from conversations import threads

bp = Blueprint("ops_page", __name__, template_folder="../templates")
SCAN_BATCH = 500


def _allowed(rt: Runtime) -> bool:
    token = rt.settings.ops_token
    if not token:
        return not rt.settings.production
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or request.args.get("token", "")
    return hmac.compare_digest(given.encode(), token.encode())


def _guard() -> Runtime:
    rt: Runtime = current_app.extensions["tgwa"]
    if not _allowed(rt):
        abort(404 if rt.settings.production and not rt.settings.ops_token else 401)
    return rt


@bp.get("/ops")
def overview() -> Any:
    """JSON for tools; a page for a browser (it asks for HTML)."""
    rt = _guard()
    data = {"conversations": conversations(rt), "waiting_contacts": rt.redis.scard(store.PENDING_CONTACTS),
            "parked": parked.items(rt.redis), "broadcasts": broadcasts(rt), "notifications": notifications_sent(rt),
            "awaiting_ack": awaiting_ack(rt), "windows": windows(rt)}
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        return render_template("ops.html", token=request.args.get("token", ""), **data)
    return data


@bp.post("/ops/parked/<item_id>/retry")
def retry_parked(item_id: str) -> Any:
    rt = _guard()
    item = parked.retry(rt, item_id)
    if item is None:
        abort(404)
    token = request.args.get("token")
    return redirect(url_for("ops_page.overview", **({"token": token} if token else {})))


def conversations(rt: Runtime) -> dict[str, dict[str, int]]:
    """Open and finished threads, counted by flow and state."""
    counts: dict[str, Counter[str]] = {}
    for _, thread in _threads(rt):
        counts.setdefault(thread["flow"], Counter())[thread["state"]] += 1
    return {flow: dict(states) for flow, states in sorted(counts.items())}


def notifications_sent(rt: Runtime) -> list[dict[str, Any]]:
    """Every notification (and its reminders) with how many messages were sent, delivered, read, failed."""
    out = []
    for key in rt.redis.scan_iter(match=store.stats_key("*"), count=SCAN_BATCH):
        purpose = key.decode().split(":", 2)[2]
        if purpose != "reply":
            out.append({"purpose": purpose, **delivery.stats(rt, purpose)})
    return sorted(out, key=lambda n: n["purpose"])


def _threads(rt: Runtime) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in rt.redis.scan_iter(match=store.conversation_key("*"), count=SCAN_BATCH):
        contact = key.decode().split("{c:", 1)[1].split("}", 1)[0]
        for thread_id, thread in threads.decode(rt.redis.get(key)).get("threads", {}).items():
            yield contact, {"id": thread_id, **thread}


def awaiting_ack(rt: Runtime) -> list[dict[str, Any]]:
    """Alerts that need acknowledging, with who has not answered yet."""
    waiting: dict[str, list[str]] = {}
    for contact, thread in _threads(rt):
        if thread["flow"] == "alert" and thread["state"] == "awaiting_ack":
            person = rt.directory.person(contact)
            waiting.setdefault(thread["id"].split(":", 1)[1], []).append(person.name if person else f"+{contact}")
    return [{"alert_id": alert, "not_acknowledged": sorted(names)} for alert, names in sorted(waiting.items())]


def windows(rt: Runtime) -> list[dict[str, Any]]:
    """Who wrote within 24 hours (free-form messages allowed), and when."""
    out = []
    now = time.time()
    for key in rt.redis.scan_iter(match=f"{store.PREFIX}:{{c:*}}:last_in", count=SCAN_BATCH):
        contact = key.decode().split("{c:", 1)[1].split("}", 1)[0]
        last = rt.redis.get(key)
        if last is None:
            continue
        person = rt.directory.person(contact)
        out.append({"contact": person.name if person else f"+{contact}", "phone": contact, "last_message": int(last),
                    "open_for_minutes": max(0, int((int(last) + store.WINDOW_SECONDS - now) // 60))})
    return sorted(out, key=lambda w: -w["last_message"])


def broadcasts(rt: Runtime) -> list[dict[str, Any]]:
    out = []
    for key in rt.redis.scan_iter(match=store.broadcast_key("*"), count=SCAN_BATCH):
        event_id = key.decode().split(":", 2)[2]
        out.append({"event_id": event_id, **notifications.progress(rt, event_id)})
    return sorted(out, key=lambda b: b["event_id"])
