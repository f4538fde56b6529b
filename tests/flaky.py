"""A Trading Grid that fails on command, for the fault tests and the soak benchmark."""
from __future__ import annotations

import threading
import time
from typing import Any


class Faults:
    """WSGI middleware in front of the loopback Trading Grid: fails the next requests on command,
    or every request for a while (an outage), or answers them only after a delay (having done the
    work: the client times out anyway)."""

    def __init__(self, app: Any):
        self.app = app
        self.failures: list[tuple[int, str | None]] = []
        self.delay = 0.0
        self.down: tuple[float, int] = (0.0, 0)  # (until when, with what status) every request fails
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def fail(self, status: int, times: int, retry_after: str | None = None) -> None:
        self.failures = [(status, retry_after)] * times

    def fail_for(self, seconds: float, status: int) -> None:
        self.down = (time.time() + seconds, status)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        with self._lock:
            failure = self.failures.pop(0) if self.failures and environ["REQUEST_METHOD"] != "GET" else None
        if failure is None and time.time() < self.down[0]:
            failure = (self.down[1], None)
        if failure:
            headers = [("Content-Type", "application/json")] + ([("Retry-After", failure[1])] if failure[1] else [])
            start_response(f"{failure[0]} Injected", headers)
            return [b'{"error": "injected"}']
        captured: dict[str, Any] = {}
        body = b"".join(self.app(environ, lambda status, headers, exc=None: captured.update(s=status, h=headers)))
        if self.delay and environ["REQUEST_METHOD"] != "GET":
            time.sleep(self.delay)
        start_response(captured["s"], captured["h"])
        return [body]
