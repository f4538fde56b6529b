"""The CLI beside a running `tgwa demo` (no REDIS_URL): its commands read and change the demo's
own store, not an empty one of their own; with no demo running they say so in one line."""
from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from app import parked
from bench import stack
from bench.stack import BIN, ROOT, free_port
from tests.test_processes import wait_http

JANA = "4915123456789"  # Acme's exceptions contact in the demo directory
ALERT = ROOT / "examples" / "events" / "alert.broadcast.json"


def tgwa(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATA_DIR", "DIRECTORY_FILE")}
    return subprocess.run([str(BIN / "tgwa"), *args], cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    """`tgwa demo` as `make demo` starts it, in a folder of its own (its files in data/demo there)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TRADING_GRID_URL", "PUBLIC_URL",
                                                                 "DATA_DIR")}
    process = subprocess.Popen([str(BIN / "tgwa"), "demo", "--port", str(port)], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environ)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        stack.stop([process])


def eventually(check, seconds: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_with_no_demo_running_parked_list_says_why_in_one_line(tmp_path: Path) -> None:
    answer = tgwa(tmp_path, "parked", "list")
    assert answer.returncode == 1
    assert answer.stderr.strip().count("\n") == 0 and "Traceback" not in answer.stderr
    assert "no tgwa demo or tgwa serve is running" in answer.stderr and "make demo" in answer.stderr


def test_broadcast_preview_beside_the_demo_knows_who_sent_stop_there(tmp_path: Path, demo: str) -> None:
    before = tgwa(tmp_path, "broadcast", "preview", str(ALERT))
    assert before.returncode == 0 and f"+ Jana Weber (Acme Logistics GmbH, +{JANA})" in before.stdout
    requests.post(f"{demo}/sandbox/api/say", json={"phone": JANA, "text": "STOP"}, timeout=10).raise_for_status()

    def preview_knows_it() -> str | None:
        out = tgwa(tmp_path, "broadcast", "preview", str(ALERT)).stdout
        return out if "sent STOP" in out else None
    after = eventually(preview_knows_it)
    assert after and f"- Jana Weber (Acme Logistics GmbH, +{JANA}): sent STOP" in after


def test_parked_work_in_the_demo_is_listed_and_retried_from_the_cli(tmp_path: Path, demo: str) -> None:
    address = json.loads((tmp_path / "data" / "demo" / "store.json").read_text())
    held = redis.Redis.from_url(address["store"])
    message = {"messaging_product": "whatsapp", "to": JANA, "type": "text", "text": {"body": "Your parked hello"}}
    item_id = parked.park(held, "send", "Meta refused it (131000)", {"payload": message, "key": "test:parked:1"})

    listed = tgwa(tmp_path, "parked", "list")
    assert listed.returncode == 0 and "1 parked" in listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [item_id]

    retried = tgwa(tmp_path, "parked", "retry", item_id)
    assert retried.returncode == 0 and f"retrying send {item_id}" in retried.stdout
    chat = eventually(lambda: [m for m in requests.get(f"{demo}/sandbox/api/chat/{JANA}", timeout=10).json()["messages"]
                               if m.get("payload", {}).get("text", {}).get("body") == "Your parked hello"])
    assert len(chat) == 1, "the demo's own worker sent the retried message, once"
    assert "0 parked" in tgwa(tmp_path, "parked", "list").stderr
