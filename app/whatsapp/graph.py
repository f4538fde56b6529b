"""Sending: the Graph API over HTTP, or the sandbox outbox; the same payloads either way."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Protocol

import redis
import urllib3

from app import httpsession, jsonsafe, keyspace
from app.whatsapp import errors, messages

TIMEOUT = urllib3.Timeout(connect=3.05, read=15)


class Transport(Protocol):
    def post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Sends one payload to `/messages`; returns Meta's answer or raises errors.GraphError."""


class GraphTransport:
    """Posts to `/messages` with urllib3 (what requests is built on): sending is the hot path of a
    broadcast, and urllib3 alone costs half the CPU per message (bench/broadcast_bench.py)."""

    def __init__(self, api_base: str, phone_number_id: str, access_token: str):
        self._url = f"{api_base.rstrip('/')}/{phone_number_id}/messages"
        self._pool = httpsession.pool_for(self._url)
        self._headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"}

    def post(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self._pool.request("POST", self._url, body=json.dumps(payload).encode(), headers=self._headers,
                                        timeout=TIMEOUT, retries=False)
        except urllib3.exceptions.HTTPError as exc:
            raise errors.Unreachable(f"Graph API unreachable: {type(exc).__name__}") from None
        try:
            body = json.loads(answer.data)
        except ValueError:
            body = None
        if answer.status != 200 or not isinstance(body, dict):
            raise errors.from_response(answer.status, body)
        return body


class SandboxTransport:
    """SANDBOX=1: nothing leaves the machine; each message is kept in the outbox in Redis."""

    def __init__(self, connection: redis.Redis):
        self._redis = connection

    def post(self, payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("status") == "read":
            return {"success": True}
        wamid = f"wamid.sandbox.{uuid.uuid4().hex}"
        record = {"id": wamid, "at": time.time(), "payload": payload}
        self._redis.rpush(keyspace.SANDBOX_OUTBOX, jsonsafe.dumps(record))
        return {"messaging_product": "whatsapp", "contacts": [{"input": messages.address_of(payload)}],
                "messages": [{"id": wamid}]}


class WhatsApp:
    def __init__(self, transport: Transport):
        self.transport = transport

    def send(self, payload: dict[str, Any]) -> str:
        """Sends a payload from `app.whatsapp.messages`; returns the new message's wamid."""
        answer = self.transport.post(payload)
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise errors.GraphError("Graph API answered without a message id") from None

    def mark_read(self, message_id: str) -> None:
        self.transport.post({"messaging_product": "whatsapp", "status": "read", "message_id": message_id})

    def typing(self, message_id: str) -> None:
        """Marks the message read and shows "typing…" to its sender, until the reply (or 25 s)."""
        self.transport.post({"messaging_product": "whatsapp", "status": "read", "message_id": message_id,
                             "typing_indicator": {"type": "text"}})
