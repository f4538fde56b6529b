"""Several web and worker processes against one Redis, as in production (Procfile): every
message answered exactly once, in each contact's order."""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from app.signatures import sign
from tests import redis_servers
from tests.conftest import APP_SECRET, EVENTS_SECRET, FIXTURES, REAL, REAL_REDIS_URL, VERIFY_TOKEN
from bench import stack
from tests.fake_graph import PHONE_NUMBER_ID, TOKEN
from tests.helpers import envelope, text



free_port = stack.free_port


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """The test Redis when one answers; else a redis-server of our own; else this cannot run."""
    if REAL is not None:
        url = REAL_REDIS_URL.rsplit("/", 1)[0] + "/14"
        redis.Redis.from_url(url).flushdb()
        yield url
        redis.Redis.from_url(url).flushdb()
        return
    if redis_servers.SERVER is None or os.environ.get("TGWA_TEST_REDIS") == "fake":
        pytest.skip("several processes need a Redis server; none answers and none may be started here")
    port = free_port()
    process = redis_servers.start(port, tmp_path)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


def wait_http(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def stack_env(redis_url: str, graph_url: str, tradinggrid_url: str, directory: Path, data_dir: Path) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "APP_ENV": "development", "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "WHATSAPP_ACCESS_TOKEN": TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID, "WHATSAPP_API_BASE": f"{graph_url}/v23.0",
            "TRADING_GRID_URL": tradinggrid_url, "QUIET_HOURS": "off", "TRADING_GRID_EVENTS_SECRET": EVENTS_SECRET,
            "DIRECTORY_FILE": str(directory), "DATA_DIR": str(data_dir)}


def production_stack(env: dict[str, str]):  # type: ignore[no-untyped-def]
    """The Procfile's processes: gunicorn with two web workers and two `tgwa worker`s."""
    return stack.running(env, web_workers=2, workers=2)


def test_two_web_and_two_worker_processes_answer_each_message_once(
        redis_url: str, graph, tradinggrid_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = stack_env(redis_url, graph.url, tradinggrid_url, FIXTURES / "directory.yaml", tmp_path)
    with production_stack(env) as running:
        base = running.base
        contacts = [f"49151{n:08d}" for n in range(10)]
        sent: dict[str, list[str]] = {c: [] for c in contacts}
        start = int(time.time()) - 100

        def chat(contact: str) -> None:
            session = requests.Session()
            for i in range(10):
                message = text(contact, f"message {i}", message_id=f"wamid.{contact}.{i}", timestamp=start + i)
                raw = json.dumps(envelope(message)).encode()
                for _ in range(2 if i % 5 == 0 else 1):  # every fifth message delivered twice
                    answer = session.post(f"{base}/webhooks/whatsapp", data=raw, timeout=10, headers={
                        "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
                    assert answer.status_code == 200
                sent[contact].append(message["id"])

        threads = [threading.Thread(target=chat, args=(c,)) for c in contacts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 60
        while len(graph.sent) < 100 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # anything sent twice would arrive now
        assert len(graph.sent) == 100
        for contact in contacts:
            replies = [p["context"]["message_id"] for p in graph.sent if p["to"] == contact]
            assert replies == sent[contact], f"{contact}: answered out of order or not once each"


def directory_of(contacts: int, path: Path) -> Path:
    lines = ["partners:"]
    for n in range(contacts):
        lines += [f"  - id: P{n:03d}", f"    name: Partner {n}", "    region: EMEA", "    country: GB",
                  "    contacts:", f"      - name: Contact {n}", f'        phone: "+44 7700 9{n:05d}"',
                  "        roles: [exceptions]", "        opt_in: true"]
    lines += ["staff:", "  - id: u.smith", "    name: Una Smith", '    phone: "+44 7700 800123"', "    teams: [support]",
              "groups:", "  - id: support", "    members: [u.smith]"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_thousand_interleaved_replies_lose_nothing_and_write_nothing_twice(
        redis_url: str, graph, grid, tradinggrid_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    contacts, cases_each = 100, 5
    env = stack_env(redis_url, graph.url, tradinggrid_url, directory_of(contacts, tmp_path / "directory.yaml"), tmp_path)
    cases: dict[tuple[int, int], dict] = {}
    for n in range(contacts):
        for k in range(cases_each):
            cases[n, k] = grid.create_case({"partner_id": f"P{n:03d}", "issue_type": "shipment_delay",
                                            "reference": f"PO-{4400000 + n * 10 + k}", "summary": "late"},
                                           idempotency_key=f"seed-{n}-{k}")
    with production_stack(env) as running:
        base = running.base
        session = requests.Session()
        for (n, k), case in cases.items():  # Trading Grid tells each contact of its five delays
            body = json.dumps({"id": f"evt-{n}-{k}", "type": "exception.logged", "occurred_at": "2026-11-24T09:00:00Z",
                               "case_id": case["id"], "partner_id": case["partner_id"], "issue_type": "shipment_delay",
                               "reference": case["reference"], "summary": "late",
                               "thread_url": f"https://tg.example.com/cases/{case['id']}"}).encode()
            ts = str(int(time.time()))
            answer = session.post(f"{base}/webhooks/tradinggrid", data=body, timeout=10, headers={
                "Content-Type": "application/json", "X-TG-Timestamp": ts,
                "X-TG-Signature": sign(EVENTS_SECRET, ts.encode() + b"." + body)})
            assert answer.status_code == 202
        deadline = time.monotonic() + 120
        while len(graph.sent) < len(cases) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(graph.sent) == len(cases), "every contact is told of every case"

        start = int(time.time())

        def reply(n: int) -> None:
            phone = f"4477009{n:05d}"
            own = requests.Session()
            for k in range(cases_each):  # a date for one case, then "yes": ten messages a contact
                for i, words in enumerate((f"PO {4400000 + n * 10 + k}: can do {k + 3}/12/2027", "yes")):
                    message = text(phone, words, message_id=f"wamid.{n}.{k}.{i}", timestamp=start + 2 * k + i)
                    raw = json.dumps(envelope(message)).encode()
                    answer = own.post(f"{base}/webhooks/whatsapp", data=raw, timeout=10, headers={
                        "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
                    assert answer.status_code == 200
                    time.sleep(0.05)  # a person types; the bot answers in between

        threads = [threading.Thread(target=reply, args=(n,)) for n in range(contacts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            written = [c for c in cases.values() if grid.get_case(c["id"])["expected_date"]]
            if len(written) == len(cases):
                break
            time.sleep(0.5)
        time.sleep(1)
        for (n, k), case in cases.items():
            assert grid.get_case(case["id"])["expected_date"] == f"2027-12-{k + 3:02d}", (n, k)
            assert len(grid.audit(case["id"])["comments"]) == 1, (n, k)
