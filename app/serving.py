"""How the web process is served: one gunicorn configuration for the Procfile
(`gunicorn --config python:app.serving ...`) and for `tgwa serve` and `tgwa demo` alike.

- gevent workers: each holds many requests at once, so a burst or a slow client does not queue
  behind one request, and webhooks in flight together share their Redis round trip
  (app.groupcommit);
- a read timeout on every connection: a request body that stalls for READ_TIMEOUT_SECONDS is cut
  off (408) instead of holding its connection for good;
- every log line masked (app.logs), gunicorn's access log included: no token, secret or
  Authorization header, no whole phone number;
- the settings checked once in gunicorn's master before any worker starts: a bad one stops the
  server with one line, and so does the embedded store (no REDIS_URL) in more than one worker,
  since it lives inside one process.

Only gunicorn imports this module, as its configuration: it patches the process for gevent
before anything else is imported, so that the master's check and the workers it forks share one
patched standard library (patching after ssl and redis were imported misbehaves). `tgwa serve`
runs gunicorn with it rather than importing it.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402 - after patching, as said above
import os  # noqa: E402
from typing import Any  # noqa: E402

from gunicorn.glogging import Logger  # noqa: E402
from gunicorn.workers.base_async import AsyncWorker  # noqa: E402
from gunicorn.workers.ggevent import GeventWorker  # noqa: E402

from app import logs, runtime  # noqa: E402
from app.settings import Settings, SettingsError, sandbox_secrets  # noqa: E402

READ_TIMEOUT_SECONDS = 10  # the longest a request may leave the server waiting for its next bytes
MASKED_ATOMS = ("authorization", "cookie")  # request headers and environ entries never logged

worker_class = "app.serving.Worker"
logger_class = "app.serving.MaskedLogger"
# gunicorn's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl): several web
# processes on one machine would take it from each other, and nothing here uses it.
control_socket_disable = True


class Worker(GeventWorker):
    """gunicorn's gevent worker with a read timeout on each client connection (gevent's own
    worker sets none, so a body sent one byte a minute holds a connection for ever)."""

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        client.settimeout(READ_TIMEOUT_SECONDS)
        AsyncWorker.handle(self, listener, client, addr)


class _Masking(logging.Formatter):
    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return logs.mask(self._inner.format(record))


class MaskedLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, its error and access lines passed through app.logs.mask, and the
    Authorization and Cookie headers left out of the access log whatever its format asks."""

    def _set_handler(self, log: logging.Logger, output: Any, fmt: logging.Formatter, stream: Any = None) -> None:
        super()._set_handler(log, output, _Masking(fmt), stream)

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {key: "***" if any(word in key for word in MASKED_ATOMS) else value for key, value in atoms.items()}


def check(settings: Settings, workers: int) -> None:
    """What must hold before a web worker starts; SettingsError names what does not."""
    if settings.embedded and workers > 1:
        raise SettingsError(f"REDIS_URL is required for {workers} web workers (WEB_CONCURRENCY): the embedded "
                            "store lives inside one process; set REDIS_URL or WEB_CONCURRENCY=1")
    runtime.build(settings)  # the directory and templates load, the URLs are sound


def on_starting(server: Any) -> None:
    """gunicorn's hook in the master, before any worker: the settings checked once, and the
    signing secrets a sandbox left unset made up here, where every worker inherits them."""
    try:
        made = sandbox_secrets(Settings.load())
        os.environ.update(made)
        for name, value in made.items():
            print(f"sandbox: {name} not set; using {value}", flush=True)
        check(Settings.load(), server.cfg.workers)
    except SettingsError as exc:
        raise RuntimeError(str(exc)) from None  # gunicorn prints it as one line and exits 1
