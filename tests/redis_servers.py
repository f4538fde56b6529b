"""Redis servers of a test's own (Debian's redis-server) on loopback, for the tests that crash,
cluster or share one between processes: started, and answering PING before they are handed over."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

SERVER = shutil.which("redis-server")


def start(port: int, folder: Path, *options: str) -> subprocess.Popen[bytes]:
    """redis-server on 127.0.0.1:`port`, its files in `folder`, saving nothing unless `options`
    (given last, so they win) say otherwise."""
    process = subprocess.Popen([str(SERVER), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                                "--save", "", "--appendonly", "no", *options],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            redis.Redis(port=port).ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"redis-server on port {port} did not start")
