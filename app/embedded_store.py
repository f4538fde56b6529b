"""The embedded store (no REDIS_URL): one in-process server, shared by every connection of the
process that owns it (`tgwa demo`, or `tgwa serve` without Redis), and served on loopback so
that this machine's CLI (`tgwa parked list`, `tgwa broadcast preview`) reads the same store
instead of an empty one of its own.

The owner writes where it listens (and which directory file it reads) to `DATA_DIR/store.json`
and removes it when it stops; a CLI command finds it there, checks that it answers, and
otherwise says no such process runs.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import threading
from pathlib import Path

import fakeredis
import redis

SERVER = fakeredis.FakeServer()
ADDRESS_FILE = "store.json"
_DEMO_DATA_DIR = Path("data/demo")  # where `tgwa demo` keeps its files unless DATA_DIR says otherwise


def connection() -> redis.Redis:
    """A connection to this process's embedded store."""
    return fakeredis.FakeRedis(server=SERVER)


def owns(conn: object) -> bool:
    """Whether `conn` is a connection to this process's embedded store."""
    pool = getattr(conn, "connection_pool", None)
    return pool is not None and pool.connection_kwargs.get("server") is SERVER


@dataclasses.dataclass
class Running:
    """The process that holds an embedded store, as this machine's CLI reaches it."""

    connection: redis.Redis
    data_dir: Path
    directory_file: str | None


def share(data_dir: Path, directory_file: str | None) -> str:
    """Serves the embedded store on a free loopback port for as long as this process runs, and
    writes its URL and `directory_file` to `data_dir`; returns the URL."""
    tcp = fakeredis.TcpFakeServer(("127.0.0.1", 0))
    tcp.fake_server = SERVER  # the store this process already holds, not a new empty one
    threading.Thread(target=tcp.serve_forever, name="tgwa-embedded-store", daemon=True).start()
    url = f"redis://127.0.0.1:{tcp.server_address[1]}/0"
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ADDRESS_FILE
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({"store": url, "directory_file": directory_file}) + "\n", encoding="utf-8")
    partial.replace(path)
    atexit.register(_forget, path, url)
    return url


def _forget(path: Path, url: str) -> None:
    """Removes the address file, unless a newer process has written its own since."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        if json.loads(path.read_text(encoding="utf-8"))["store"] == url:
            path.unlink()


def reach(data_dir: Path, data_dir_given: bool) -> Running | None:
    """The running process whose embedded store is under `data_dir` (or, when DATA_DIR was not
    given, the demo's); None when no such process answers."""
    places = [data_dir] if data_dir_given else [data_dir, _DEMO_DATA_DIR]
    for place in places:
        try:
            found = json.loads((place / ADDRESS_FILE).read_text(encoding="utf-8"))
            url, directory_file = str(found["store"]), found.get("directory_file")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=1)
        try:
            client.ping()
        except redis.RedisError:
            client.close()
            continue
        return Running(client, place, directory_file)
    return None
