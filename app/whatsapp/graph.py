"""Sending: the Graph API over HTTP, or the sandbox outbox; the same payloads either way."""
from __future__ import annotations

import http.client
import time
import uuid
from typing import Any, Protocol

import orjson
import redis

from app import httpsession, jsonsafe, keyspace
from app.whatsapp import errors, messages

CONNECT_TIMEOUT, READ_TIMEOUT = 3.05, 15  # seconds


class Transport(Protocol):
    def post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Sends one payload to `/messages`; returns Meta's answer or raises errors.GraphError."""


class GraphTransport:
    """Posts to `/messages` over kept-alive connections (httpsession.KeptAlive): sending is the
    hot path of every reply and broadcast."""

    def __init__(self, api_base: str, phone_number_id: str, access_token: str):
        self._connection = httpsession.KeptAlive(f"{api_base.rstrip('/')}/{phone_number_id}/messages",
                                                 CONNECT_TIMEOUT, READ_TIMEOUT)
        self._headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"}

    def post(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            status, data = self._connection.post(jsonsafe.dumps(payload), self._headers)
        except (OSError, http.client.HTTPException) as exc:
            raise errors.Unreachable(f"Graph API unreachable: {type(exc).__name__}") from None
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            body = None
        if status != 200 or not isinstance(body, dict):
            raise errors.from_response(status, body)
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
