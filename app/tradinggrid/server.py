"""Contract section 5 served over HTTP from the embedded store.

A stand-in Trading Grid for tests (a real loopback server for the HTTP adapter) and for anyone
mapping a tenant's API: it answers exactly what the bot expects, including OAuth2
client credentials when `client` is given.
"""
from __future__ import annotations

import json
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from app.tradinggrid.embedded import EmbeddedTradingGrid
from app.tradinggrid.port import CASE_FILTERS, PermanentError, Upload

TOKEN_LIFETIME = 3600


def create_server(grid: EmbeddedTradingGrid, client: tuple[str, str] | None = None) -> Flask:
    server = Flask("tradinggrid")
    tokens: dict[str, float] = {}

    @server.errorhandler(PermanentError)
    def refused(exc: PermanentError) -> tuple[Response, int]:
        return jsonify(error=exc.reason), exc.status or 422

    @server.post("/oauth/token")
    def token() -> Any:
        auth = request.authorization
        if client is None or auth is None or (auth.username, auth.password) != client:
            return jsonify(error="invalid_client"), 401
        if request.form.get("grant_type") != "client_credentials":
            return jsonify(error="unsupported_grant_type"), 400
        value = secrets.token_urlsafe(24)
        tokens[value] = time.monotonic() + TOKEN_LIFETIME
        return jsonify(access_token=value, token_type="Bearer", expires_in=TOKEN_LIFETIME)

    @server.before_request
    def authorise() -> Any:
        if client is None or request.path == "/oauth/token":
            return None
        header = request.headers.get("Authorization", "")
        value = header.removeprefix("Bearer ")
        if not header.startswith("Bearer ") or tokens.get(value, 0) < time.monotonic():
            return jsonify(error="invalid_token"), 401
        return None

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise PermanentError("body must be a JSON object", 400)
        return data

    def key() -> str:
        return request.headers.get("Idempotency-Key", "")

    @server.get("/cases/<case_id>")
    def get_case(case_id: str) -> Any:
        case = grid.get_case(case_id)
        return (jsonify(case), 200) if case else (jsonify(error=f"case {case_id} not found"), 404)

    @server.get("/cases")
    def list_cases() -> Any:
        filters = {k: v for k, v in request.args.items() if k in CASE_FILTERS}
        return jsonify(items=grid.list_cases(**filters))

    @server.post("/cases")
    def create_case() -> Any:
        return jsonify(grid.create_case(body(), idempotency_key=key())), 201

    @server.patch("/cases/<case_id>")
    def update_case(case_id: str) -> Any:
        return jsonify(grid.update_case(case_id, body(), idempotency_key=key()))

    @server.post("/cases/<case_id>/references")
    def add_reference(case_id: str) -> Any:
        return jsonify(grid.add_reference(case_id, body(), idempotency_key=key())), 201

    @server.post("/cases/<case_id>/comments")
    def add_comment(case_id: str) -> Any:
        return jsonify(grid.add_comment(case_id, body(), idempotency_key=key())), 201

    @server.post("/tasks")
    def create_task() -> Any:
        return jsonify(grid.create_task(body(), idempotency_key=key())), 201

    @server.post("/acknowledgments")
    def create_acknowledgment() -> Any:
        return jsonify(grid.create_acknowledgment(body(), idempotency_key=key())), 201

    @contextmanager
    def multipart() -> Iterator[tuple[dict[str, Any], Upload]]:
        """The `metadata` JSON part and the `file` part of a multipart body, the file on disk."""
        sent, raw = request.files.get("file"), request.form.get("metadata")
        if raw is None and "metadata" in request.files:  # sent as a part with a file name of its own
            raw = request.files["metadata"].read(1024 * 1024).decode("utf-8", "replace")
        if sent is None or raw is None:
            raise PermanentError("a multipart body with a file part and a metadata part is required", 400)
        try:
            metadata = json.loads(raw)
        except ValueError:
            raise PermanentError("the metadata part is not JSON", 400) from None
        if not isinstance(metadata, dict):
            raise PermanentError("the metadata part must be a JSON object", 400)
        with tempfile.NamedTemporaryFile(dir=grid.path.parent, prefix="upload-") as spool:
            sent.save(spool)
            spool.flush()
            yield metadata, Upload(sent.filename or "", sent.mimetype or "application/octet-stream",
                                   Path(spool.name), spool.tell())

    @server.post("/cases/<case_id>/attachments")
    def add_attachment(case_id: str) -> Any:
        with multipart() as (metadata, upload):
            return jsonify(grid.add_attachment(case_id, metadata, upload, idempotency_key=key())), 201

    @server.post("/documents")
    def create_document() -> Any:
        with multipart() as (metadata, upload):
            return jsonify(grid.create_document(metadata, upload, idempotency_key=key())), 201

    return server
