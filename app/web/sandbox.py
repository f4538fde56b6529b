"""The sandbox (SANDBOX=1 only, refused in production): chat as any directory person and fire any
Trading Grid event, through the real webhooks. What the person types or taps becomes exactly the
webhook Meta would send, signed with the app secret; what the bot sends is kept in the outbox."""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, send_file

from app import attachable, jsonsafe, keyspace
from app.directory import Contact
from app.runtime import Runtime
from app.signatures import sign, tradinggrid_payload
from app.tradinggrid.embedded import EmbeddedTradingGrid
from app.whatsapp import messages

bp = Blueprint("sandbox", __name__, template_folder="../templates", static_folder="../static",
               static_url_path="/sandbox/static")
BUSINESS_NUMBER = "15550000000"
_ids = itertools.count(1)

# What the Trading Grid panel fills in when the form leaves a field empty.
EVENT_DEFAULTS: dict[str, dict[str, Any]] = {
    "exception.logged": {"issue_type": "shipment_delay", "summary": "Container held at port, delivery at risk"},
    "schedule.revised": {"proposed_date": "2027-01-08"},
    "document.requested": {"document_type": "packing_list", "url": "https://tradinggrid.example.com/documents/new"},
    "milestone.reached": {"order_ref": "PO-778812", "milestone": "goods_dispatched"},
    "alert.broadcast": {"alert_id": "AL-1", "category": "port_closure", "severity": "high", "title": "Port closure",
                        "message": "Expect 48h delays", "requires_ack": True},
    "onboarding.pending": {"action": "contract_review", "url": "https://tradinggrid.example.com/onboarding"},
    "onboarding.completed": {"action": "contract_review"},
    "document.uploaded": {"document_type": "packing_list", "document_name": "packing-list.pdf",
                          "url": "https://tradinggrid.example.com/documents/new"},
    "case.assigned": {"assignee_id": "u.smith", "escalation_group_id": "escalations", "summary": "Please review"},
    "comment.added": {"body": "Can you confirm the container number? Customs is asking for it.",
                      "author": {"kind": "staff", "id": "u.smith", "name": "Una Smith"}, "visibility": "partner"},
    "case.closed": {"resolution": "Resolved"},
}


def _rt() -> Runtime:
    return current_app.extensions["tgwa"]


@bp.get("/sandbox")
def page() -> str:
    rt = _rt()
    people = [{"phone": p.phone, "name": p.name, "who": rt.directory.partners[p.partner_id].name
               if isinstance(p, Contact) else "staff"} for p in _people(rt)]
    partners = [{"id": p.id, "name": p.name, "region": p.region} for p in rt.directory.partners.values()]
    return render_template("sandbox.html", people=people, partners=partners, events=sorted(EVENT_DEFAULTS),
                           staff=sorted(rt.directory.staff))


def _people(rt: Runtime) -> list[Any]:
    return [c for p in rt.directory.partners.values() for c in p.contacts] + list(rt.directory.staff.values())


@bp.get("/sandbox/api/chat/<phone>")
def chat(phone: str) -> dict[str, Any]:
    """Both sides of one person's chat, oldest first, with each bot message's delivery status."""
    rt = _rt()
    said = [json.loads(raw) for raw in rt.redis.lrange(keyspace.SANDBOX_SAID, 0, -1)]
    sent = [json.loads(raw) for raw in rt.redis.lrange(keyspace.SANDBOX_OUTBOX, 0, -1)]
    items = [{"from": "person", "at": s["at"], "id": s["id"], "text": s["text"]} for s in said if s["to"] == phone]
    for message in sent:
        if messages.address_of(message["payload"]) == phone:
            status = rt.redis.hget(keyspace.message_key(message["id"]), "status")
            items.append({"from": "bot", "at": message["at"], "id": message["id"], "payload": message["payload"],
                          "status": status.decode() if status else "sent", **_as_registered(rt, message["payload"])})
    return {"phone": phone, "messages": sorted(items, key=lambda m: m["at"])}


def _as_registered(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """For a template: its body and quick replies as the templates file registers them in the
    language it was sent in, the way the person's phone shows it."""
    if payload.get("type") != "template":
        return {}
    content = payload.get("template") or {}
    template = rt.templates.named(str(content.get("name", "")))
    if template is None:
        return {}
    components = content.get("components") or []
    values = [p.get("text", "") for c in components if c.get("type") == "body" for p in c.get("parameters", [])]
    ids = [c["parameters"][0]["payload"] for c in components if c.get("type") == "button"]
    body, labels = template.shown(rt.templates.language_of(str((content.get("language") or {}).get("code", ""))),
                                  values)
    return {"shown": {"body": body, "buttons": [{"id": i, "title": labels[n] if n < len(labels) else i.split("|")[1]}
                                                for n, i in enumerate(ids)]}}


@bp.post("/sandbox/api/say")
def say() -> tuple[dict[str, Any], int]:
    """The person types a message."""
    data = request.get_json(silent=True) or {}
    phone, text = str(data.get("phone", "")), str(data.get("text", ""))
    if not phone or not text.strip():
        return {"error": "phone and text are required"}, 400
    message = _message(phone, "text", {"text": {"body": text}})
    return _deliver(phone, message, text)


@bp.post("/sandbox/api/tap")
def tap() -> tuple[dict[str, Any], int]:
    """The person taps a reply button, picks a list row, or taps a template's quick reply."""
    data = request.get_json(silent=True) or {}
    phone, reply_id, title = str(data.get("phone", "")), str(data.get("id", "")), str(data.get("title", ""))
    kind, context = data.get("kind"), str(data.get("context", ""))
    if not phone or not reply_id or kind not in ("button_reply", "list_reply", "quick_reply"):
        return {"error": "phone, id and a kind of button_reply, list_reply or quick_reply are required"}, 400
    if kind == "quick_reply":  # a template's button arrives as type "button"
        fields = {"button": {"payload": reply_id, "text": title}}
        message = _message(phone, "button", fields)
    else:
        message = _message(phone, "interactive", {"interactive": {"type": kind, kind: {"id": reply_id, "title": title}}})
    message["context"] = {"from": BUSINESS_NUMBER, "id": context}
    return _deliver(phone, message, f"[{title}]")


@bp.post("/sandbox/api/form")
def fill_a_form() -> tuple[dict[str, Any], int]:
    """The person completes a WhatsApp Flow the bot sent: Meta's nfm_reply, quoting it."""
    data = request.get_json(silent=True) or {}
    phone, context, answers = str(data.get("phone", "")), str(data.get("context", "")), data.get("answers")
    if not phone or not context or not isinstance(answers, dict):
        return {"error": "phone, context and answers (an object) are required"}, 400
    message = _message(phone, "interactive", {"interactive": {"type": "nfm_reply", "nfm_reply": {
        "name": "flow", "body": "Sent", "response_json": json.dumps(answers)}}})
    message["context"] = {"from": BUSINESS_NUMBER, "id": context}
    return _deliver(phone, message, "[" + ", ".join(f"{k}: {v}" for k, v in answers.items() if k != "flow_token") + "]")


@bp.post("/sandbox/api/file")
def send_a_file() -> tuple[dict[str, Any], int]:
    """The person sends a photo, PDF, voice note or video: its bytes are kept where the sandbox's
    media endpoints serve them (as Meta keeps a file people send), and the webhook names it."""
    phone, sent = request.form.get("phone", ""), request.files.get("file")
    if not phone or sent is None or not sent.filename:
        return {"error": "phone and a file are required"}, 400
    media_id = f"sandbox{secrets.token_hex(8)}"
    folder = _media_dir(_rt())
    folder.mkdir(parents=True, exist_ok=True)
    sent.save(folder / media_id)
    data = (folder / media_id).read_bytes()
    mime = sent.mimetype or "application/octet-stream"
    digest = hashlib.sha256(data).digest()
    (folder / f"{media_id}.json").write_text(json.dumps({"mime_type": mime, "sha256": digest.hex(), "size": len(data)}))
    kind = next((k for k in ("image", "audio", "video") if mime.startswith(k + "/")), "document")
    body: dict[str, Any] = {"id": media_id, "mime_type": mime, "sha256": base64.b64encode(digest).decode()}
    caption = request.form.get("caption", "").strip()
    if kind == "document":
        body["filename"] = sent.filename
    if caption and kind != "audio":
        body["caption"] = caption
    if kind == "audio" and mime.startswith("audio/ogg"):
        body["voice"] = True
    message = _message(phone, kind, {kind: body})
    context = request.form.get("context", "")
    if context:
        message["context"] = {"from": BUSINESS_NUMBER, "id": context}
    return _deliver(phone, message, f"📎 {sent.filename} ({attachable.size_in_words(len(data))})"
                    + (f": {caption}" if caption else ""))


def _media_dir(rt: Runtime) -> Path:
    return rt.settings.data_dir / "sandbox-media"


def _media(media_id: str) -> tuple[Path, dict[str, Any]]:
    """A file a sandbox person sent, by media id, and what was noted of it when it was sent (its
    type, sha256 and size): 404 for any other id, as Meta answers."""
    rt = _rt()
    token = rt.settings.whatsapp_access_token
    if token and request.headers.get("Authorization") != f"Bearer {token}":
        abort(401)
    path = _media_dir(rt) / media_id
    if not media_id.isalnum() or not path.is_file():
        abort(404)
    return path, json.loads(path.with_suffix(".json").read_text())


@bp.get("/sandbox/graph/<media_id>")
def media_info(media_id: str) -> dict[str, Any]:
    """Meta's `GET /{media-id}`, for the sandbox's files."""
    _, noted = _media(media_id)
    return {"messaging_product": "whatsapp", "url": f"{_rt().settings.public_url}/sandbox/graph/download/{media_id}",
            "mime_type": noted["mime_type"], "sha256": noted["sha256"], "file_size": str(noted["size"]),
            "id": media_id}


@bp.get("/sandbox/graph/download/<media_id>")
def media_download(media_id: str) -> Any:
    path, noted = _media(media_id)
    return send_file(path.resolve(), mimetype=noted["mime_type"])  # DATA_DIR may be relative; Flask would read it from the app


@bp.post("/sandbox/api/read/<phone>")
def read(phone: str) -> tuple[dict[str, Any], int]:
    """The person's phone reports what it showed: every bot message delivered and read."""
    rt = _rt()
    wamids = [m["id"] for m in (json.loads(raw) for raw in rt.redis.lrange(keyspace.SANDBOX_OUTBOX, 0, -1))
              if messages.address_of(m["payload"]) == phone]
    now = str(int(time.time()))
    statuses = [{"id": w, "status": s, "timestamp": now, "recipient_id": phone} for w in wamids
                for s in ("delivered", "read")]
    if not statuses:
        return {"statuses": 0}, 200
    answer = _post_whatsapp(_envelope({"statuses": statuses}))
    return {"statuses": len(statuses), "webhook": answer.status_code}, 200


@bp.post("/sandbox/api/event")
def fire_event() -> tuple[dict[str, Any], int]:
    """Trading Grid sends an event: the form's fields over the defaults, signed, to the real webhook."""
    rt = _rt()
    data = request.get_json(silent=True) or {}
    kind = str(data.get("type", ""))
    if kind not in EVENT_DEFAULTS:
        return {"error": f"type must be one of {', '.join(sorted(EVENT_DEFAULTS))}"}, 400
    fields = {k: v for k, v in (data.get("fields") or {}).items() if v not in (None, "")}
    event = {"id": f"sandbox-{int(time.time() * 1000)}-{next(_ids)}", "type": kind,
             "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **EVENT_DEFAULTS[kind], **fields}
    if kind == "document.uploaded":
        event.setdefault("document_id", f"DOC-{event['id'].split('-', 1)[1]}")
    if kind == "comment.added":
        event.setdefault("comment_id", f"CMT-{event['id'].split('-', 1)[1]}")
    if event.get("case_id") and rt.tradinggrid.get_case(str(event["case_id"])) is None:
        return {"error": f"there is no case {event['case_id']} in the Trading Grid: pick one from the cases below, "
                         "or leave Case empty for the partner's first open case"}, 400
    _fill_case(rt, event)
    raw = json.dumps(event).encode()
    ts = str(int(time.time()))
    answer = current_app.test_client().post("/webhooks/tradinggrid", data=raw, headers={
        "Content-Type": "application/json", "X-TG-Timestamp": ts,
        "X-TG-Signature": sign(rt.settings.trading_grid_events_secret, tradinggrid_payload(ts, raw))})
    return {"event": event, "status": answer.status_code, "answer": answer.get_json()}, 200


def _fill_case(rt: Runtime, event: dict[str, Any]) -> None:
    """Events about a case take its details from the embedded Trading Grid when not given."""
    partner = event.get("partner_id")
    if event["type"] in ("exception.logged", "schedule.revised", "case.assigned", "comment.added",
                         "case.closed") and not event.get("case_id"):
        cases = rt.tradinggrid.list_cases(partner_id=partner, status="open") if partner else rt.tradinggrid.list_cases()
        if cases:
            event["case_id"] = cases[0]["id"]
    case = rt.tradinggrid.get_case(event["case_id"]) if event.get("case_id") else None
    if case:
        event.setdefault("partner_id", case["partner_id"])
        event.setdefault("reference", case["reference"])
        event.setdefault("thread_url", case["thread_url"])
        if event["type"] == "exception.logged":
            event["issue_type"] = case["issue_type"]
            event["summary"] = case["summary"]
    if event["type"] == "alert.broadcast":
        event.setdefault("targeting", {"partner_ids": [partner]} if partner else {})


@bp.get("/sandbox/api/tradinggrid")
def tradinggrid() -> dict[str, Any]:
    """The embedded Trading Grid's cases and what WhatsApp wrote into them."""
    rt = _rt()
    if not isinstance(rt.tradinggrid, EmbeddedTradingGrid):
        return {"external": True, "cases": [], "audit": {}}
    return {"external": False, "cases": rt.tradinggrid.list_cases(), "audit": rt.tradinggrid.audit()}


@bp.get("/sandbox/api/outbox")
def outbox() -> dict[str, object]:
    rt = _rt()
    return {"outbox": [json.loads(raw) for raw in rt.redis.lrange(keyspace.SANDBOX_OUTBOX, -200, -1)]}


def _message(phone: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"from": phone, "id": f"wamid.sandbox.in.{int(time.time() * 1000)}.{next(_ids)}",
            "timestamp": str(int(time.time())), "type": kind, **fields}


def _envelope(value: dict[str, Any], name: str | None = None, phone: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": BUSINESS_NUMBER, "phone_number_id": "sandbox"}, **value}
    if phone:
        body["contacts"] = [{"profile": {"name": name or phone}, "wa_id": phone}]
    return {"object": "whatsapp_business_account", "entry": [{"id": "sandbox", "changes": [
        {"value": body, "field": "messages"}]}]}


def _post_whatsapp(body: dict[str, Any]) -> Any:
    raw = jsonsafe.dumps(body)
    return current_app.test_client().post("/webhooks/whatsapp", data=raw, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(_rt().settings.whatsapp_app_secret, raw)})


def _deliver(phone: str, message: dict[str, Any], shown: str) -> tuple[dict[str, Any], int]:
    rt = _rt()
    person = rt.directory.person(phone)
    answer = _post_whatsapp(_envelope({"messages": [message]}, person.name if person else None, phone))
    rt.redis.rpush(keyspace.SANDBOX_SAID, jsonsafe.dumps({"to": phone, "id": message["id"], "text": shown,
                                                             "at": time.time()}))
    return {"id": message["id"], "webhook": answer.status_code}, 200
