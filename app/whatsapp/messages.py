"""Outbound message payloads, made to fit Meta's limits before they are sent.

Texts too long for a field are shortened with an ellipsis and titles made unique, so a send never
fails on our own payload; what cannot be made to fit (a fourth button, an eleventh row, an empty
body) is a programming error and raises ValueError at once.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

TEXT_BODY_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
HEADER_MAX = 60
FOOTER_MAX = 60
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
LIST_ROWS_MAX = 10
LIST_SECTIONS_MAX = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROW_ID_MAX = 200
SECTION_TITLE_MAX = 24
TEMPLATE_PARAM_MAX = 1024

Button = tuple[str, str]                   # (id, title)
Row = tuple[str, str, str | None]          # (id, title, description)
Section = tuple[str, Sequence[Row]]        # (title, rows)


def fit(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in an ellipsis when it was cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _unique_titles(titles: Sequence[str], limit: int) -> list[str]:
    out: list[str] = []
    for title in titles:
        candidate, n = fit(title, limit), 2
        while candidate in out:
            suffix = f" {n}"
            candidate, n = fit(title, limit - len(suffix)).rstrip("…") + suffix, n + 1
        out.append(candidate)
    return out


def _body(text: str, limit: int) -> str:
    if not text or not text.strip():
        raise ValueError("a message body must not be empty")
    return fit(text, limit)


def is_phone(address: str) -> bool:
    """A WhatsApp number (digits), rather than a business-scoped user id ("US.1349…")."""
    return address.isdigit()


def address_of(payload: dict[str, Any]) -> str:
    """Whom a payload goes to: its `to` (a number) or its `recipient` (a business-scoped user id)."""
    return str(payload.get("to") or payload.get("recipient") or "")


def _envelope(to: str, kind: str, content: dict[str, Any], reply_to: str | None) -> dict[str, Any]:
    """`to` for a number, `recipient` for a business-scoped user id (Meta's 2026 send API)."""
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                               "to" if is_phone(to) else "recipient": to, "type": kind, kind: content}
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    return payload


def text(to: str, body: str, reply_to: str | None = None) -> dict[str, Any]:
    return _envelope(to, "text", {"body": _body(body, TEXT_BODY_MAX), "preview_url": True}, reply_to)


def _decorate(content: dict[str, Any], header: str | None, footer: str | None) -> dict[str, Any]:
    if header:
        content["header"] = {"type": "text", "text": fit(header, HEADER_MAX)}
    if footer:
        content["footer"] = {"text": fit(footer, FOOTER_MAX)}
    return content


def flow(to: str, body: str, flow_id: str, cta: str, token: str, screen: str, data: dict[str, Any],
         reply_to: str | None = None) -> dict[str, Any]:
    """A WhatsApp Flow (a form) opened on `screen` with `data`; its answer comes back as an
    nfm_reply carrying `token`."""
    content = {"type": "flow", "body": {"text": _body(body, INTERACTIVE_BODY_MAX)},
               "action": {"name": "flow", "parameters": {
                   "flow_message_version": "3", "flow_id": flow_id, "flow_cta": fit(cta, BUTTON_TITLE_MAX),
                   "flow_token": token, "flow_action": "navigate",
                   "flow_action_payload": {"screen": screen, "data": data}}}}
    return _envelope(to, "interactive", content, reply_to)


def buttons(to: str, body: str, choices: Sequence[Button], header: str | None = None,
            footer: str | None = None, reply_to: str | None = None) -> dict[str, Any]:
    if not 1 <= len(choices) <= BUTTONS_MAX:
        raise ValueError(f"reply buttons take 1 to {BUTTONS_MAX} choices, not {len(choices)}")
    ids = [c[0] for c in choices]
    if len(set(ids)) != len(ids) or any(not i or len(i) > BUTTON_ID_MAX for i in ids):
        raise ValueError("button ids must be unique, non-empty and at most 256 characters")
    titles = _unique_titles([c[1] for c in choices], BUTTON_TITLE_MAX)
    content = {"type": "button", "body": {"text": _body(body, INTERACTIVE_BODY_MAX)},
               "action": {"buttons": [{"type": "reply", "reply": {"id": i, "title": t}}
                                      for i, t in zip(ids, titles)]}}
    return _envelope(to, "interactive", _decorate(content, header, footer), reply_to)


def choice_list(to: str, body: str, button: str, sections: Sequence[Section], header: str | None = None,
                footer: str | None = None, reply_to: str | None = None) -> dict[str, Any]:
    rows = [row for _, section_rows in sections for row in section_rows]
    if not 1 <= len(rows) <= LIST_ROWS_MAX or len(sections) > LIST_SECTIONS_MAX:
        raise ValueError(f"a list takes 1 to {LIST_ROWS_MAX} rows in at most {LIST_SECTIONS_MAX} sections")
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids) or any(not i or len(i) > ROW_ID_MAX for i in ids):
        raise ValueError("row ids must be unique, non-empty and at most 200 characters")
    titles = iter(_unique_titles([r[1] for r in rows], ROW_TITLE_MAX))
    out_sections = []
    for title, section_rows in sections:
        section: dict[str, Any] = {"rows": []}
        if title or len(sections) > 1:
            section["title"] = fit(title or "-", SECTION_TITLE_MAX)
        for row_id, _, description in section_rows:
            row: dict[str, Any] = {"id": row_id, "title": next(titles)}
            if description:
                row["description"] = fit(description, ROW_DESCRIPTION_MAX)
            section["rows"].append(row)
        out_sections.append(section)
    content = {"type": "list", "body": {"text": _body(body, INTERACTIVE_BODY_MAX)},
               "action": {"button": fit(button, LIST_BUTTON_MAX), "sections": out_sections}}
    return _envelope(to, "interactive", _decorate(content, header, footer), reply_to)


def template(to: str, name: str, language: str, body_params: Sequence[str] = (),
             quick_replies: Sequence[str] = ()) -> dict[str, Any]:
    """An approved template; `quick_replies` are the payloads of its quick-reply buttons, in order.

    Meta refuses parameters with new lines, tabs or runs of spaces: white space is folded."""
    components: list[dict[str, Any]] = []
    if body_params:
        components.append({"type": "body", "parameters": [
            {"type": "text", "text": fit(" ".join(p.split()), TEMPLATE_PARAM_MAX) or "-"}
            for p in body_params]})
    for index, payload in enumerate(quick_replies):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": payload}]})
    content: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        content["components"] = components
    return _envelope(to, "template", content, None)


