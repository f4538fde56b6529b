"""The web app: its pages and webhooks, and in embedded mode the worker beside them."""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, request
from redis.exceptions import RedisError
from werkzeug.exceptions import ClientDisconnected, HTTPException

from app import embedded_store, metrics, runtime
from app.logs import configure_logging
from app.runtime import Runtime
from app.settings import Settings
from app.web import case_page, events_webhook, fastpath, ops, ops_page, sandbox, whatsapp_webhook
from app.worker import EmbeddedWorker

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, rt: Runtime | None = None,
               start_worker: bool | None = None) -> Flask:
    """The web app. Settings are read here once (from the environment unless given); in embedded
    mode the background worker runs in this process unless `start_worker` is False."""
    if rt is None:
        configure_logging()
        rt = runtime.build(settings or Settings.load())
    runtime.install(rt)
    app = Flask("app")  # the package: its templates/ and static/ folders
    app.config["MAX_CONTENT_LENGTH"] = fastpath.MAX_BODY_BYTES
    app.extensions["tgwa"] = rt
    app.register_blueprint(whatsapp_webhook.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(ops_page.bp)
    if rt.settings.sandbox and not rt.settings.production:
        app.register_blueprint(sandbox.bp)
    if case_page.served(rt):
        app.register_blueprint(case_page.bp)
    app.wsgi_app = fastpath.Receiver(  # type: ignore[method-assign]
        app.wsgi_app, [whatsapp_webhook.endpoint(rt), events_webhook.endpoint(rt)])

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        """JSON, keeping what HTTP asks of the answer (a 405 names the allowed methods)."""
        response = exc.get_response()
        response.data = json.dumps({"error": exc.description or exc.name})
        response.content_type = "application/json"
        return response

    @app.errorhandler(ClientDisconnected)
    def cut_off(exc: ClientDisconnected) -> tuple[dict[str, Any], int]:
        """A body that ended early, or stopped arriving until the server's read timeout
        (app.serving) cut it off: werkzeug says both the same way, the cause tells them apart."""
        if isinstance(exc.__context__, TimeoutError):
            log.warning("%s %s: the request body stalled; answered 408", request.method, request.path)
            return {"error": "the request body did not arrive in time"}, 408
        return {"error": "the request body ended early"}, 400

    @app.errorhandler(RedisError)
    def store_away(exc: RedisError) -> tuple[dict[str, Any], int]:
        """Redis away (restarting, failing over): a passing failure, said as one, not a crash."""
        log.warning("%s %s: Redis does not answer (%s); answered 503", request.method, request.path,
                    type(exc).__name__)
        return {"error": "the store does not answer; try again shortly"}, 503

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[dict[str, Any], int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return {"error": "internal error"}, 500

    @app.after_request
    def count(response: Any) -> Any:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.REQUESTS.labels(endpoint, str(response.status_code)).inc()
        return response

    if start_worker if start_worker is not None else rt.settings.embedded:
        EmbeddedWorker(rt.queues).start()
        if embedded_store.owns(rt.redis):  # this process holds the store: let this machine's CLI reach it
            embedded_store.share(rt.settings.data_dir, rt.settings.directory_file)
    return app
