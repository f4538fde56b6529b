"""Cloud API webhook bodies become typed objects here, once; nothing deeper touches raw dicts.

Parsing never raises on odd input: a change or message that cannot be understood is reported in
`Notification.ignored` (the webhook logs it) and the rest of the body is still taken.
"""
from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, NamedTuple

import orjson

from app import jsonsafe

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")


class InboundMessage(NamedTuple):
    """One message a person sent. `sender` is the wa_id where present, else the BSUID.

    A NamedTuple rather than a frozen dataclass: as immutable, and the webhook builds one for
    every message it takes, where a frozen dataclass's setattr per field cost more than the rest
    of the parse."""

    id: str
    sender: str
    timestamp: int
    type: str
    wa_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    username: str | None = None      # the WhatsApp username Meta gives for the sender, if any
    text: str | None = None          # text body, media caption, button or row title
    reply_id: str | None = None      # button payload, button_reply/list_reply id
    context_id: str | None = None    # the message this one answers
    media: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    reaction: dict[str, Any] | None = None
    edits: str | None = None         # an edit: the id of the message it changes (its text is the new one)
    form: dict[str, Any] | None = None  # a WhatsApp Flow's answer (nfm_reply): the fields the person filled in
    system: dict[str, Any] | None = None
    errors: tuple[dict[str, Any], ...] = ()
    phone_number_id: str | None = None

    @property
    def is_reply_tap(self) -> bool:
        """A template quick reply and an interactive button/list reply are the same to the bot."""
        return self.reply_id is not None

    def to_json(self) -> str:
        """Compact: fields left at their default are not written (it is kept in Redis per message)."""
        data = {name: value for name, value in zip(self._fields, self) if value is not None and value != ()}
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # a lone surrogate (the webhook makes text well-formed; anything else may not be)
            return jsonsafe.dumps(data).decode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> InboundMessage:
        data = jsonsafe.loads_stored(raw)
        data["errors"] = tuple(data.get("errors") or ())
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class StatusUpdate:
    """What became of a message we sent: sent, delivered, read, played or failed."""

    message_id: str
    status: str
    recipient: str
    timestamp: int
    errors: tuple[dict[str, Any], ...] = ()
    callback_data: str | None = None
    billable: bool | None = None  # Meta's `pricing` block: whether the message is charged...
    category: str | None = None   # ...and as what (utility, marketing, service, authentication)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class TemplateUpdate:
    """Meta's word on one of our templates: a new status (APPROVED, PAUSED, DISABLED, ...) or a
    new category (UTILITY, MARKETING, AUTHENTICATION)."""

    name: str
    language: str
    status: str | None = None
    category: str | None = None
    reason: str | None = None


@dataclasses.dataclass
class Notification:
    messages: list[InboundMessage] = dataclasses.field(default_factory=list)
    statuses: list[StatusUpdate] = dataclasses.field(default_factory=list)
    templates: list[TemplateUpdate] = dataclasses.field(default_factory=list)
    errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    ignored: list[str] = dataclasses.field(default_factory=list)


def parse_notification(body: Any) -> Notification:
    """Every message, status and error in a webhook body; what is not understood goes to `ignored`."""
    result = Notification()
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        result.ignored.append("body is not a Cloud API notification (no entry list)")
        return result
    for entry in body["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            result.ignored.append("entry without a changes list")
            continue
        for change in changes:
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                result.ignored.append("change without a value object")
            elif change.get("field") in TEMPLATE_FIELDS:
                update = _parse_template_update(change["value"])
                if isinstance(update, str):
                    result.ignored.append(update)
                else:
                    result.templates.append(update)
            elif change.get("field") != "messages":
                result.ignored.append(f"field {change.get('field')!r} is not handled")
            else:
                _parse_messages_value(change["value"], result)
    return result


TEMPLATE_FIELDS = ("message_template_status_update", "template_category_update")


def _parse_template_update(value: dict[str, Any]) -> TemplateUpdate | str:
    name, language = _text(value.get("message_template_name")), _text(value.get("message_template_language"))
    if not name or not language:
        return "template update without a name or language"
    status = _text(value.get("event"))
    category = _text(value.get("new_category")) or _text(value.get("message_template_category"))
    rejection = value.get("rejection_info") if isinstance(value.get("rejection_info"), dict) else {}
    reason = _text(rejection.get("reason")) or _text(value.get("reason"))
    return TemplateUpdate(name, language, status.upper() if status else None, category.upper() if category else None,
                          None if reason in (None, "NONE") else reason)


def _parse_messages_value(value: dict[str, Any], result: Notification) -> None:
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    phone_number_id = _text(metadata.get("phone_number_id"))
    profiles = _profiles(value.get("contacts"))
    result.errors.extend(e for e in _list(value.get("errors")) if isinstance(e, dict))
    for raw in _list(value.get("messages")):
        message = _parse_message(raw, profiles, phone_number_id)
        if isinstance(message, str):
            result.ignored.append(message)
        else:
            result.messages.append(message)
    for raw in _list(value.get("statuses")):
        status = _parse_status(raw)
        if isinstance(status, str):
            result.ignored.append(status)
        else:
            result.statuses.append(status)


def _profiles(contacts: Any) -> dict[str, tuple[str | None, str | None]]:
    """Each sender's profile name and username, by number and by user id."""
    profiles: dict[str, tuple[str | None, str | None]] = {}
    for contact in _list(contacts):
        if not isinstance(contact, dict):
            continue
        profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
        found = (_text(profile.get("name")), _text(profile.get("username")))
        for key in ("wa_id", "user_id"):
            if any(found) and _text(contact.get(key)):
                profiles[contact[key]] = found
    return profiles


def _parse_message(raw: Any, profiles: dict[str, tuple[str | None, str | None]],
                   phone_number_id: str | None) -> InboundMessage | str:
    if not isinstance(raw, dict):
        return "message is not an object"
    message_id = _text(raw.get("id"))
    wa_id, user_id = _text(raw.get("from")), _text(raw.get("from_user_id"))
    system = raw.get("system") if isinstance(raw.get("system"), dict) else {}
    user_id = user_id or _text(system.get("previous_user_id"))  # a user id change may name no sender
    sender = wa_id or user_id
    if not message_id or not sender:
        return "message without id or sender"
    kind = _text(raw.get("type")) or "unknown"
    fields: dict[str, Any] = {}
    body = raw.get(kind) if isinstance(raw.get(kind), dict) else {}
    if kind == "text":
        fields["text"] = _text(body.get("body"))
    elif kind == "button":  # a template's quick reply
        fields["text"], fields["reply_id"] = _text(body.get("text")), _text(body.get("payload"))
    elif kind == "interactive":
        reply_type = _text(body.get("type"))
        reply = body.get(reply_type) if reply_type and isinstance(body.get(reply_type), dict) else {}
        if reply_type in ("button_reply", "list_reply"):
            fields["text"], fields["reply_id"] = _text(reply.get("title")), _text(reply.get("id"))
        else:
            fields["text"] = _text(reply.get("body")) or _text(reply.get("response_json"))
            if reply_type == "nfm_reply":
                fields["form"] = _form(reply.get("response_json"))
    elif kind in MEDIA_TYPES:
        fields["text"] = _text(body.get("caption"))
        fields["media"] = {k: body[k] for k in ("id", "mime_type", "sha256", "filename", "url", "animated", "voice")
                           if k in body}
    elif kind == "location":
        fields["location"] = {k: body[k] for k in ("latitude", "longitude", "name", "address", "url")
                              if k in body}
    elif kind == "reaction":
        fields["reaction"] = {"message_id": _text(body.get("message_id")), "emoji": _text(body.get("emoji"))}
    elif kind == "edit":
        fields["edits"] = _text(body.get("original_message_id"))
        changed = body.get("message") if isinstance(body.get("message"), dict) else {}
        inner = changed.get(_text(changed.get("type")) or "")
        inner = inner if isinstance(inner, dict) else {}
        fields["text"] = _text(inner.get("body")) or _text(inner.get("caption"))
    elif kind == "system":
        fields["system"] = {"type": _text(body.get("type")), "new_wa_id": _text(body.get("wa_id")),
                            "new_user_id": _text(body.get("user_id")) or _text(body.get("new_user_id")),
                            "body": _text(body.get("body"))}
    context = raw.get("context") if isinstance(raw.get("context"), dict) else {}
    return InboundMessage(
        id=message_id, sender=sender, timestamp=_timestamp(raw.get("timestamp")), type=kind,
        wa_id=wa_id, user_id=user_id, name=profiles.get(sender, (None, None))[0],
        username=profiles.get(sender, (None, None))[1], context_id=_text(context.get("id")),
        errors=tuple(e for e in _list(raw.get("errors")) if isinstance(e, dict)),
        phone_number_id=phone_number_id, **fields,
    )


def _parse_status(raw: Any) -> StatusUpdate | str:
    if not isinstance(raw, dict):
        return "status is not an object"
    message_id, status = _text(raw.get("id")), _text(raw.get("status"))
    recipient = _text(raw.get("recipient_id")) or _text(raw.get("recipient_user_id"))
    if not message_id or not status or not recipient:
        return "status without id, status or recipient"
    pricing = raw.get("pricing") if isinstance(raw.get("pricing"), dict) else {}
    return StatusUpdate(
        message_id=message_id, status=status.lower(), recipient=recipient,
        timestamp=_timestamp(raw.get("timestamp")),
        errors=tuple(e for e in _list(raw.get("errors")) if isinstance(e, dict)),
        callback_data=_text(raw.get("biz_opaque_callback_data")),
        billable=pricing["billable"] if isinstance(pricing.get("billable"), bool) else None,
        category=_text(pricing.get("category")),
    )


def _list(value: Any) -> list[Any]:
    return value if type(value) is list else []  # JSON's arrays, nothing else


def _text(value: Any) -> str | None:
    if type(value) is str:  # nearly always: checked first, as the webhook reads a dozen a message
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _timestamp(value: Any) -> int:
    """WhatsApp's unix seconds; an absent or garbled one counts as now, so order stays sane."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return int(time.time())


def _form(raw: Any) -> dict[str, Any] | None:
    """A Flow's `response_json` (a JSON object in a string), or None when it is not one."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
