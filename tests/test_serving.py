"""The web process as it is really served, by the Procfile's `web` line and by `tgwa serve`: one
configuration (app.serving). A stalled body is cut off, the embedded store never runs in two
processes, and no secret reaches the log, the access log included."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.signatures import sign
from bench import stack
from bench.stack import BIN, ROOT, free_port
from tests.conftest import APP_SECRET, EVENTS_SECRET, FIXTURES, VERIFY_TOKEN
from tests.helpers import envelope, text
from tests.test_processes import wait_http

MARIA = "14155550134"
READ_TIMEOUT = 10  # app.READ_TIMEOUT (importing that module would gevent-patch the tests)


def embedded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Development on the embedded store: no Redis, no Trading Grid, the sandbox's outbox."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TRADING_GRID_URL", "GUNICORN_CMD_ARGS")}
    return {**env, "APP_ENV": "development", "SANDBOX": "1", "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "TRADING_GRID_EVENTS_SECRET": EVENTS_SECRET,
            "DIRECTORY_FILE": str(FIXTURES / "directory.yaml"), "DATA_DIR": str(tmp_path / "data"), **extra}


def procfile_web(port: int) -> list[str]:
    return stack.web_command(port, workers=1)


def tgwa_serve(port: int) -> list[str]:
    return [str(BIN / "tgwa"), "serve", "--host", "127.0.0.1", "--port", str(port)]


@pytest.fixture(params=[procfile_web, tgwa_serve], ids=["procfile", "tgwa-serve"])
def served(request, tmp_path: Path) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    """The web process started one way or the other; its URL and the file its output goes to."""
    port, log = free_port(), tmp_path / "web.log"
    env = embedded_env(tmp_path, OPS_TOKEN="ops-secret-77", GUNICORN_CMD_ARGS=(
        "--access-logfile - --access-logformat '%(h)s \"%(r)s\" %(s)s auth=%({authorization}i)s'"))
    with log.open("wb") as out:
        process = subprocess.Popen(request.param(port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        yield f"http://127.0.0.1:{port}", log
    finally:
        stack.stop([process])


def stalled(base: str, path: str = "/webhooks/whatsapp") -> socket.socket:
    """A client that announces a large body and sends one byte of it."""
    host, port = base.removeprefix("http://").split(":")
    client = socket.create_connection((host, int(port)))
    client.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 100000\r\n\r\n{".encode())
    return client


def test_stalled_bodies_are_cut_off_and_real_webhooks_still_answered(served) -> None:  # type: ignore[no-untyped-def]
    base, _ = served
    clients = [stalled(base) for _ in range(24)] + [stalled(base, "/webhooks/tradinggrid") for _ in range(4)]
    raw = json.dumps(envelope(text(MARIA, "help"))).encode()
    answer = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
    assert answer.status_code == 200
    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    started = time.monotonic()
    for client in clients:
        client.settimeout(READ_TIMEOUT + 10)
        head = client.recv(4096)
        assert head.startswith(b"HTTP/1.1 408"), head[:80]
        client.close()
    assert time.monotonic() - started < READ_TIMEOUT + 8


def test_no_secret_reaches_the_log(served) -> None:  # type: ignore[no-untyped-def]
    base, log = served
    requests.get(f"{base}/webhooks/whatsapp", timeout=5, params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"})
    requests.get(f"{base}/ops", params={"token": "ops-secret-77"}, timeout=5)
    requests.get(f"{base}/ops", headers={"Authorization": "Bearer ops-secret-77"}, timeout=5)
    requests.get(f"{base}/healthz", headers={"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}, timeout=5)
    time.sleep(0.5)
    written = log.read_text()
    assert written.count('"GET /ops?token=*** HTTP/1.1" 200') == 1, written
    assert "hub.verify_token=***" in written
    for secret in (VERIFY_TOKEN, "ops-secret-77", "dXNlcjpwYXNzd29yZA==", APP_SECRET):
        assert secret not in written


def test_the_procfile_never_runs_the_embedded_store_in_two_processes(tmp_path: Path) -> None:
    done = subprocess.run(stack.web_command(free_port(), workers=2), cwd=ROOT, env=embedded_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == ("Error: REDIS_URL is required for 2 web workers (WEB_CONCURRENCY): the embedded "
                                   "store lives inside one process; set REDIS_URL or WEB_CONCURRENCY=1")


def test_the_procfile_stops_on_a_bad_setting_with_one_line(tmp_path: Path) -> None:
    env = embedded_env(tmp_path, APP_ENV="production")
    done = subprocess.run(stack.web_command(free_port(), workers=1), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "Error: SANDBOX is refused when APP_ENV=production"


def test_the_sandbox_without_secrets_makes_them_up_and_answers(tmp_path: Path) -> None:
    """Development with SANDBOX=1 and no signing secrets: the master makes them up, says so, and
    the sandbox's own webhooks are taken (before, every one was refused 403)."""
    env = {k: v for k, v in embedded_env(tmp_path).items()
           if k not in ("WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "TRADING_GRID_EVENTS_SECRET")}
    port, log = free_port(), tmp_path / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen(stack.web_command(port, workers=1), cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", 60)
        said = requests.post(f"{base}/sandbox/api/say", json={"phone": MARIA, "text": "help"}, timeout=10)
        assert said.status_code == 200 and said.json()["webhook"] == 200
        fired = requests.post(f"{base}/sandbox/api/event", json={"type": "milestone.reached", "fields": {"partner_id": "GLOBEX"}}, timeout=10)
        assert fired.status_code == 200 and fired.json()["status"] == 202, fired.json()
        made = [line for line in log.read_text().splitlines() if line.startswith("sandbox: ")]
        assert [line.split(" ")[1] for line in made] == ["WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET",
                                                          "TRADING_GRID_EVENTS_SECRET"]
    finally:
        stack.stop([process])


def test_the_demo_listens_on_port_and_its_case_links_name_that_port(tmp_path: Path) -> None:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TRADING_GRID_URL", "PUBLIC_URL")}
    demo = subprocess.Popen([str(BIN / "tgwa"), "demo"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**environ, "PORT": str(port), "DATA_DIR": str(tmp_path / "demo")})
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz")
        cases = requests.get(f"{base}/sandbox/api/tradinggrid", timeout=10).json()["cases"]
        assert cases and all(c["thread_url"] == f"http://127.0.0.1:{port}/tradinggrid/cases/{c['id']}" for c in cases)
        page = requests.get(cases[0]["thread_url"], timeout=10)
        assert page.status_code == 200 and cases[0]["reference"] in page.text
    finally:
        stack.stop([demo])
