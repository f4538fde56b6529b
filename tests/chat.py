"""Conversations as chats: a person writes or taps through the real webhook, the worker answers,
and the test reads what the bot sent (at the loopback Graph server) and what Trading Grid holds."""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from typing import Any

from tests.helpers import envelope, post_event, post_whatsapp, text

_clock = itertools.count(int(time.time()) - 3600)
_events = itertools.count(1)


class Chat:
    def __init__(self, client: Any, work: Any, graph: Any, phone: str, redeliver_seconds: float = 0):
        """`redeliver_seconds`: as Meta does, a message answered 503 is delivered again, for so long."""
        self.client, self.work, self.graph, self.phone = client, work, graph, phone
        self.last_ts = 0
        self.redeliver_seconds = redeliver_seconds

    # -- the person ------------------------------------------------------------------------
    def says(self, body: str, reply_to: str | None = None, message_id: str | None = None,
             timestamp: int | None = None) -> str:
        extra = {"context": {"from": "15550783881", "id": reply_to}} if reply_to else {}
        self.last_ts = timestamp or self._next_ts()
        message = text(self.phone, body, message_id=message_id, timestamp=self.last_ts, **extra)
        self._post(message)
        return message["id"]

    def taps(self, label: str) -> str:
        """Taps the button (or template quick reply) of the bot's latest message that offers it."""
        for payload, wamid in reversed(self._to_me()):
            if payload["type"] == "interactive" and payload["interactive"]["type"] == "button":
                for button in payload["interactive"]["action"]["buttons"]:
                    if label.lower() in button["reply"]["title"].lower():
                        n = self._next_ts()
                        return self._post({"from": self.phone, "id": f"wamid.tap.{n}",
                                           "timestamp": str(n), "type": "interactive",
                                           "context": {"from": "15550783881", "id": wamid},
                                           "interactive": {"type": "button_reply", "button_reply": {
                                               "id": button["reply"]["id"], "title": button["reply"]["title"]}}})
            if payload["type"] == "template":
                for component in payload["template"].get("components", []):
                    button_payload = component.get("parameters", [{}])[0].get("payload", "")
                    if component["type"] == "button" and f"|{label.lower()}|" in button_payload:
                        n = self._next_ts()
                        return self._post({"from": self.phone, "id": f"wamid.tap.{n}",
                                           "timestamp": str(n), "type": "button",
                                           "context": {"from": "15550783881", "id": wamid},
                                           "button": {"payload": button_payload, "text": label}})
        raise AssertionError(f"no button {label!r} in what {self.phone} was sent: {self.bot}")

    def edits(self, message_id: str, body: str) -> str:
        """Changes the text of a message they sent, as WhatsApp delivers an edit."""
        n = self._next_ts()
        return self._post({"from": self.phone, "id": f"wamid.edit.{n}", "timestamp": str(n), "type": "edit",
                           "edit": {"original_message_id": message_id,
                                    "message": {"type": "text", "text": {"body": body}}}})

    def sends_file(self, data: bytes, mime_type: str, kind: str = "document", filename: str | None = None,
                   caption: str | None = None, reply_to: str | None = None, voice: bool = False,
                   gone: bool = False) -> str:
        """Sends a file as WhatsApp does: Meta keeps the bytes (the loopback Graph serves them under
        a media id) and the webhook names it, with its type, sha256, name and caption. `gone`: Meta
        no longer serves it by the time the bot asks (its ids live about 30 days)."""
        n = self._next_ts()
        media_id = self.graph.add_media(data, mime_type)
        if gone:
            self.graph.forget_media(media_id)
        body: dict[str, Any] = {"id": media_id, "mime_type": mime_type,
                                "sha256": base64.b64encode(hashlib.sha256(data).digest()).decode()}
        if filename:
            body["filename"] = filename
        if caption:
            body["caption"] = caption
        if voice:
            body["voice"] = True
        message: dict[str, Any] = {"from": self.phone, "id": f"wamid.file.{n}", "timestamp": str(n), "type": kind,
                                   kind: body}
        if reply_to:
            message["context"] = {"from": "15550783881", "id": reply_to}
        return self._post(message)

    def fills_form(self, answers: dict[str, Any], to: str) -> str:
        """Completes the WhatsApp Flow the bot sent as message `to`: Meta's nfm_reply, quoting it."""
        n = self._next_ts()
        return self._post({"from": self.phone, "id": f"wamid.nfm.{n}", "timestamp": str(n), "type": "interactive",
                           "context": {"from": "15550783881", "id": to},
                           "interactive": {"type": "nfm_reply", "nfm_reply": {
                               "name": "flow", "body": "Sent", "response_json": json.dumps(answers)}}})

    def reacts(self, emoji: str, to: str) -> str:
        """Reacts with `emoji` to the message `to` (a wamid of the bot's), as WhatsApp sends it."""
        n = self._next_ts()
        return self._post({"from": self.phone, "id": f"wamid.reaction.{n}", "timestamp": str(n), "type": "reaction",
                           "reaction": {"message_id": to, "emoji": emoji}})

    def sends_tap(self, button_id: str, title: str = "Confirm") -> str:
        """A button reply with any id at all, as a forged or very old tap would carry."""
        n = self._next_ts()
        return self._post({"from": self.phone, "id": f"wamid.forged.{n}", "timestamp": str(n), "type": "interactive",
                           "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}})

    def picks(self, label: str) -> str:
        """Chooses the row of the bot's latest list whose title contains `label`."""
        for payload, wamid in reversed(self._to_me()):
            if payload["type"] == "interactive" and payload["interactive"]["type"] == "list":
                for section in payload["interactive"]["action"]["sections"]:
                    for row in section["rows"]:
                        if label.lower() in row["title"].lower():
                            n = self._next_ts()
                            return self._post({"from": self.phone, "id": f"wamid.pick.{n}",
                                               "timestamp": str(n), "type": "interactive",
                                               "context": {"from": "15550783881", "id": wamid},
                                               "interactive": {"type": "list_reply", "list_reply": {
                                                   "id": row["id"], "title": row["title"]}}})
        raise AssertionError(f"no list row {label!r} in what {self.phone} was sent: {self.bot}")

    def _next_ts(self) -> int:
        """A moment after everything this person wrote so far, as a phone's clock would give."""
        self.last_ts = max(next(_clock), self.last_ts + 1)
        return self.last_ts

    def _post(self, message: dict[str, Any]) -> str:
        deadline = time.monotonic() + self.redeliver_seconds
        answer = post_whatsapp(self.client, envelope(message))
        while answer.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
            answer = post_whatsapp(self.client, envelope(message))
        assert answer.status_code == 200, answer.get_json()
        self.work()
        return str(message["id"])

    # -- what the bot sent -----------------------------------------------------------------
    def _to_me(self) -> list[tuple[dict[str, Any], str]]:
        return [(p, w) for p, w in zip(self.graph.sent, self.graph.wamids) if p.get("to") == self.phone]

    @property
    def bot(self) -> list[str]:
        return self.graph.texts_to(self.phone)

    @property
    def last(self) -> str:
        return self.bot[-1]

    def last_message_id(self) -> str:
        return self._to_me()[-1][1]

    def buttons(self) -> list[str]:
        payload = self._to_me()[-1][0]
        if payload["type"] == "interactive" and payload["interactive"]["type"] == "button":
            return [b["reply"]["title"] for b in payload["interactive"]["action"]["buttons"]]
        return []


def event(client: Any, work: Any, kind: str, **fields: Any) -> dict[str, Any]:
    """Trading Grid sends an event; the worker turns it into messages."""
    body = {"id": f"evt-{next(_events)}-{time.time_ns()}", "type": kind, "occurred_at": "2026-11-24T09:00:00Z",
            **fields}
    answer = post_event(client, body)
    assert answer.status_code == 202, answer.get_json()
    work()
    return body


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
