"""The baselines of the ingest benchmark, as gunicorn apps (`bench.ingest_apps:bare()` and so on):
a bare Flask endpoint; one that only checks the signature and parses the JSON (the least any
webhook must do, so the cost of storing shows apart); pywa's Flask integration (which checks the
signature and parses each update but stores nothing); and under them all a bare WSGI function with
no framework, the floor of the server itself."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from flask import Flask, request

from app import signatures


def bare() -> Flask:
    app = Flask("bare")

    @app.post("/webhooks/whatsapp")
    @app.post("/webhooks/tradinggrid")
    def receive() -> tuple[str, int]:
        return "ok", 200

    return app


def checked() -> Flask:
    app = Flask("checked")
    secret = os.environ["WHATSAPP_APP_SECRET"]

    @app.post("/webhooks/whatsapp")
    def receive() -> tuple[str, int]:
        raw = request.get_data(cache=False)
        if not signatures.whatsapp_valid(secret, raw, request.headers.get("X-Hub-Signature-256")):
            return "forbidden", 403
        json.loads(raw)
        return "ok", 200

    return app


def pywa_app() -> Flask:
    from pywa import WhatsApp, types

    app = Flask("pywa")
    wa = WhatsApp(phone_id="1", token="bench", server=app, webhook_endpoint="/webhooks/whatsapp",
                  verify_token="bench", app_secret=os.environ["WHATSAPP_APP_SECRET"], validate_updates=True)

    @wa.on_message()
    def handle(_: WhatsApp, message: types.Message) -> None:
        return None

    return app


def bare_wsgi() -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
    """The floor: a WSGI function with no framework, reading the body and answering 200."""
    def receive(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    return receive
