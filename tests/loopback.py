"""Real HTTP servers on 127.0.0.1 for tests: the bot talks to them as it would to Meta and
Trading Grid, over sockets, not through patched functions."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


@contextmanager
def serve(wsgi_app: Any, port: int = 0) -> Iterator[str]:
    """Serves `wsgi_app` on loopback, on `port` or a free one, for the duration; yields its base URL."""
    server = make_server("127.0.0.1", port, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
