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


def start_replica(port: int, folder: Path, primary_port: int, *options: str, timeout: float = 10) -> subprocess.Popen[bytes]:
    """A replica of the server on `primary_port`, handed over once the primary counts it online
    (synced and streaming), so that WAIT can be answered by it."""
    process = start(port, folder, *options, "--replicaof", "127.0.0.1", str(primary_port))
    primary, deadline = redis.Redis(port=primary_port), time.monotonic() + timeout
    while primary.info("replication").get("slave0", {}).get("state") != "online":
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the replica on port {port} did not come online")
        time.sleep(0.05)
    primary.set("tgwa-test:replica-ready", 1)  # and acknowledges what it was sent: WAIT can count on it
    if int(primary.execute_command("WAIT", 1, int(timeout * 1000))) < 1:
        process.kill()
        raise AssertionError(f"the replica on port {port} did not acknowledge a write")
    primary.delete("tgwa-test:replica-ready")
    return process
