"""A loopback stand-in for Meta's Graph API `/messages`: records what it is sent, answers as
Meta does, and fails on command (error code, HTTP status, or a hang past the client's timeout),
once or for a while. It serves media as Meta does too: `GET /{version}/{media-id}` (with the
token) says where the bytes are, and the bytes are there (`add_media`, `forget_media`). Told where (`report_to`), it posts a `sent` status for each message it took
to that webhook, signed, with the message's `biz_opaque_callback_data`, again until answered 200,
as Meta does."""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask, jsonify, request

from app.signatures import sign

TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"


class FakeGraph:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.wamids: list[str] = []  # the id Meta gave each of `sent`, in the same order
        self.sent_at: list[float] = []  # when each of `sent` arrived (unix seconds)
        self.read_receipts: list[str] = []
        self.typing: list[str] = []  # messages whose sender was shown "typing…"
        self._failures: list[tuple[int, int | None, float]] = []
        self.down: tuple[float, int, int | None] = (0.0, 0, None)  # until when, HTTP status, Meta's code
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.on_take: Callable[[dict[str, Any]], None] | None = None  # called as a message is taken
        self._statuses: queue.Queue[tuple[str, dict[str, Any]]] | None = None
        self.media: dict[str, tuple[bytes, str]] = {}  # media id -> bytes, MIME type
        self.media_down = 0  # this many media requests answer 500 first
        self.downloads: list[str] = []  # media ids whose bytes were fetched, in order
        self.app = self._build()

    def add_media(self, data: bytes, mime_type: str) -> str:
        """A file a person sent: its media id, served until forgotten."""
        media_id = f"{9000000000000000 + len(self.media) + 1}"
        self.media[media_id] = (data, mime_type)
        return media_id

    def forget_media(self, media_id: str) -> None:
        """Meta keeps media about 30 days: after that its id answers 404."""
        self.media.pop(media_id, None)

    def report_to(self, webhook_url: str, app_secret: str) -> None:
        """From now on, each message taken is followed by its `sent` status, posted to the webhook."""
        self._statuses = queue.Queue()
        threading.Thread(target=self._post_statuses, args=(webhook_url, app_secret), daemon=True).start()

    def _post_statuses(self, webhook_url: str, app_secret: str) -> None:
        session = requests.Session()
        assert self._statuses is not None
        while True:
            wamid, payload = self._statuses.get()
            status = {"id": wamid, "status": "sent", "timestamp": str(int(time.time())),
                      "recipient_id": payload.get("to", "")}
            if "biz_opaque_callback_data" in payload:
                status["biz_opaque_callback_data"] = payload["biz_opaque_callback_data"]
            raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
                "field": "messages", "value": {"messaging_product": "whatsapp", "statuses": [status]}}]}]}).encode()
            while True:
                try:
                    if session.post(webhook_url, data=raw, timeout=10, headers={
                            "Content-Type": "application/json",
                            "X-Hub-Signature-256": sign(app_secret, raw)}).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.5)

    def fail_next(self, http_status: int, code: int | None = None, times: int = 1, delay: float = 0) -> None:
        with self._lock:
            self._failures.extend([(http_status, code, delay)] * times)

    def fail_for(self, seconds: float, http_status: int, code: int | None = None) -> None:
        """Every request fails this way for `seconds` (Meta throttling, say: 429 with 130429)."""
        self.down = (time.time() + seconds, http_status, code)

    def texts_to(self, wa_id: str) -> list[str]:
        """What a person has been sent, as the text they would read first."""
        out = []
        for payload in self.sent:
            if (payload.get("to") or payload.get("recipient")) != wa_id:
                continue
            kind = payload["type"]
            if kind == "text":
                out.append(payload["text"]["body"])
            elif kind == "interactive":
                out.append(payload["interactive"]["body"]["text"])
            else:
                template = payload["template"]
                params = [p["text"] for c in template.get("components", []) if c["type"] == "body"
                          for p in c["parameters"]]
                out.append(f"[{template['name']}] " + " | ".join(params))
        return out

    def _build(self) -> Flask:
        app = Flask("fake-graph")

        def media_refused() -> Any:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return jsonify(error={"code": 190, "message": "Invalid OAuth access token."}), 401
            with self._lock:
                if self.media_down > 0:
                    self.media_down -= 1
                    return "upstream failure", 500
            return None

        @app.get("/<version>/<media_id>")
        def media_info(version: str, media_id: str) -> Any:
            refused = media_refused()
            if refused is not None:
                return refused
            if media_id not in self.media:
                return jsonify(error={"code": 100, "message": "Unsupported get request. Object with ID "
                                      f"'{media_id}' does not exist", "error_subcode": 33}), 400
            data, mime = self.media[media_id]
            return jsonify(messaging_product="whatsapp", url=f"{request.host_url}download/{media_id}?ext=1",
                           mime_type=mime, sha256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
                           file_size=str(len(data)), id=media_id)

        @app.get("/download/<media_id>")
        def media_bytes(media_id: str) -> Any:
            refused = media_refused()
            if refused is not None:
                return refused
            if media_id not in self.media:
                return "not found", 404
            self.downloads.append(media_id)
            data, mime = self.media[media_id]
            return data, 200, {"Content-Type": mime}

        @app.post("/<version>/<phone_number_id>/messages")
        def messages(version: str, phone_number_id: str) -> Any:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return jsonify(error={"code": 190, "message": "Invalid OAuth access token."}), 401
            with self._lock:
                failure = self._failures.pop(0) if self._failures else None
            if failure is None and time.time() < self.down[0]:
                failure = (self.down[1], self.down[2], 0.0)
            if failure:
                status, code, delay = failure
                time.sleep(delay)
                if code is None:
                    return "upstream failure", status
                return jsonify(error={"code": code, "message": f"error {code}",
                                      "error_data": {"details": "injected"}}), status
            payload = request.get_json()
            if payload.get("status") == "read":
                self.read_receipts.append(payload["message_id"])
                if payload.get("typing_indicator") == {"type": "text"}:
                    self.typing.append(payload["message_id"])
                return jsonify(success=True)
            to, recipient = payload.get("to"), payload.get("recipient")
            if bool(to) == bool(recipient) or (to and not str(to).isdigit()):  # Meta: a number in `to`, a user id in `recipient`
                return jsonify(error={"code": 100, "message": "Invalid parameter: give a phone number as `to` "
                                                              "or a business-scoped user id as `recipient`"}), 400
            wamid = f"wamid.fake.{next(self._ids)}"
            with self._lock:
                self.sent.append(payload)
                self.wamids.append(wamid)
                self.sent_at.append(time.time())
            if self._statuses is not None:
                self._statuses.put((wamid, payload))
            if self.on_take is not None:
                self.on_take(payload)
            return jsonify(messaging_product="whatsapp", contacts=[{"input": to or recipient, **({"wa_id": to} if to else {"user_id": recipient})}],
                           messages=[{"id": wamid}])

        return app
