"""`/ops`: what an operator watches: conversations by flow and state, notifications and broadcasts
with their delivery counts, alerts awaiting acknowledgment, parked work (with retry), and who is
inside the 24-hour window; each read from counts and indexes kept as the work happens, never by
reading every conversation, so a page costs the same at any size. Behind OPS_TOKEN (as a Bearer token or `?token=`);
in production without OPS_TOKEN it is not served at all."""
from __future__ import annotations

import hmac
import json
import time
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from app import delivery, keyspace, lens_poller, parked, template_status
from app.events import described, types
from app.runtime import Runtime
from conversations import census, holding

bp = Blueprint("ops_page", __name__, template_folder="../templates")
PER_PAGE, MAX_PER_PAGE = 50, 200


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
    """JSON for tools; a page for a browser (it asks for HTML). Lists come a page at a time
    (`?page=`, `?per_page=` up to MAX_PER_PAGE), with their totals."""
    rt = _guard()
    number, per_page = _page_args()
    offset = (number - 1) * per_page
    parked_total = parked.count(rt.redis)
    sent_total, sent = notifications_sent(rt, offset, per_page)
    broadcast_total, broadcast_page = broadcasts(rt, offset, per_page)
    ack_total, acks = awaiting_ack(rt, offset, per_page)
    window_total, window_page = windows(rt, offset, per_page)
    month = time.strftime("%Y-%m", time.gmtime())  # UTC, as Meta bills
    totals = {"parked": parked_total, "notifications": sent_total, "broadcasts": broadcast_total,
              "awaiting_ack": ack_total, "windows": window_total}
    data = {"conversations": census.states(rt.redis), "waiting_contacts": rt.redis.scard(keyspace.PENDING_CONTACTS),
            "parked": parked.items(rt.redis, offset, per_page), "broadcasts": broadcast_page,
            "notifications": sent, "awaiting_ack": acks, "windows": window_page, "totals": totals,
            "templates": templates(rt),
            "billable": {"month": month, "by_kind": delivery.billed(rt, month)},
            "holds": [{**h, "staff": getattr(rt.directory.staff.get(h["staff_id"]), "name", h["staff_id"])}
                      for h in holding.holds(rt)],
            "lens": lens_poller.status(rt),
            "page": {"number": number, "per_page": per_page,
                     "last": max(1, -(-max(totals.values()) // per_page))}}
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        return render_template("ops.html", token=request.args.get("token", ""), **data)
    return data


@bp.app_template_filter("when")
def _when(at: float) -> str:
    """A moment as an operator reads it in a list: date and time to the minute, in UTC."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


@bp.app_template_filter("iso")
def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _page_args() -> tuple[int, int]:
    def number(name: str, default: int, top: int) -> int:
        try:
            return min(max(int(request.args.get(name, default)), 1), top)
        except ValueError:
            return default
    return number("page", 1, 1_000_000), number("per_page", PER_PAGE, MAX_PER_PAGE)


@bp.post("/ops/parked/<item_id>/retry")
def retry_parked(item_id: str) -> Any:
    rt = _guard()
    item = parked.retry(rt, item_id)
    if item is None:
        abort(404)
    token = request.args.get("token")
    return redirect(url_for("ops_page.overview", **({"token": token} if token else {})))


def templates(rt: Runtime) -> list[dict[str, Any]]:
    """Each approved template in each language, with what Meta last said of it: its status
    (APPROVED until Meta says otherwise), its category, and the category it had before Meta moved it."""
    said = template_status.known(rt.redis)
    rows = []
    for notice, template in rt.templates.by_notice.items():
        for code in sorted(set(rt.templates.languages.values())):
            state = said.get(template_status.field(template.name, code), {})
            rows.append({"notice": notice, "name": template.name, "language": code,
                         "status": state.get("status") or "APPROVED", "reason": state.get("reason"),
                         "category": state.get("category"), "previous_category": state.get("previous_category"),
                         "usable": state.get("status") not in template_status.UNUSABLE})
    return rows


def notifications_sent(rt: Runtime, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Notifications (and their reminders), newest first: the event's type, what it is about, who
    it was for, when it was first sent, and how many messages were sent, delivered, read and
    failed; and how many there are."""
    rt.redis.zremrangebyscore(keyspace.NOTIFICATIONS_INDEX, "-inf", time.time() - keyspace.STATUS_TTL)
    page = rt.redis.zrevrange(keyspace.NOTIFICATIONS_INDEX, offset, offset + limit - 1, withscores=True)
    purposes = [member.decode() for member, _ in page]
    pipe = rt.redis.pipeline(transaction=False)
    for purpose in purposes:
        pipe.hget(keyspace.event_key(delivery.event_id_of(purpose) or ""), "payload")
    events = [types.parse(json.loads(raw)) if raw else None for raw in (pipe.execute() if purposes else [])]
    counts = _stats(rt, purposes)
    rows = [{"purpose": purpose, "reminder": purpose.startswith("reminder:"), "type": e.type if e else "",
             "about": described.about(e) if e else "", "for": described.audience(e, rt.directory) if e else "",
             "link": (getattr(e, "thread_url", None) or getattr(e, "url", None) or "") if e else "",
             "sent_at": int(first_sent), **c}
            for (_, first_sent), purpose, e, c in zip(page, purposes, events, counts)]
    return rt.redis.zcard(keyspace.NOTIFICATIONS_INDEX), rows


def broadcasts(rt: Runtime, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Fanned-out events, newest first: recipients, and how far the sending got."""
    event_ids = _newest(rt, keyspace.BROADCASTS_INDEX, offset, limit)
    pipe = rt.redis.pipeline(transaction=False)
    for event_id in event_ids:
        pipe.hget(keyspace.broadcast_key(event_id), "total")
    totals = pipe.execute()
    counts = _stats(rt, [f"event:{e}" for e in event_ids])
    page = [{"event_id": e, "total": int(t) if t else None, **c} for e, t, c in zip(event_ids, totals, counts)]
    return rt.redis.zcard(keyspace.BROADCASTS_INDEX), page


def _newest(rt: Runtime, index: str, offset: int, limit: int) -> list[str]:
    """A page of an index, newest first, once what outlived its counts is trimmed."""
    rt.redis.zremrangebyscore(index, "-inf", time.time() - keyspace.STATUS_TTL)
    return [member.decode() for member in rt.redis.zrevrange(index, offset, offset + limit - 1)]


def _stats(rt: Runtime, purposes: list[str]) -> list[dict[str, int]]:
    pipe = rt.redis.pipeline(transaction=False)
    for purpose in purposes:
        pipe.hgetall(keyspace.stats_key(purpose))
    return [{s: int(raw.get(s.encode(), 0)) for s in ("sent", "delivered", "read", "failed")}
            for raw in (pipe.execute() if purposes else [])]


def awaiting_ack(rt: Runtime, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Alerts that need acknowledging, newest first, with how many and who have not answered."""
    total, page = census.awaiting(rt.redis, offset, limit)
    return total, [{"alert_id": alert, "count": count, "not_acknowledged": sorted(_name(rt, c) for c in contacts)}
                   for alert, count, contacts in page]


def windows(rt: Runtime, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Who wrote within 24 hours (free-form messages allowed), latest first, and how many did."""
    now = time.time()
    rt.redis.zremrangebyscore(keyspace.WINDOWS, "-inf", now - keyspace.WINDOW_SECONDS)
    page = rt.redis.zrevrange(keyspace.WINDOWS, offset, offset + limit - 1, withscores=True)
    out = [{"contact": _name(rt, contact.decode()), "phone": contact.decode(), "last_message": int(last),
            "open_for_minutes": max(0, int((int(last) + keyspace.WINDOW_SECONDS - now) // 60))} for contact, last in page]
    return rt.redis.zcard(keyspace.WINDOWS), out


def _name(rt: Runtime, contact: str) -> str:
    person = rt.directory.person(contact)
    return person.name if person else f"+{contact}"
