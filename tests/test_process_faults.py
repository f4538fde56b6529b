"""Faults no in-process test can make: Redis restarted between the webhook and the worker, and a
worker killed with SIGKILL in the middle of a job. Each runs real processes against a
redis-server of its own (append-only file, fsync always: what production should run)."""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask import request as flask_request

from app import create_app, outbound, runtime
from app.whatsapp import messages
from app.signatures import sign, tradinggrid_payload
from app.tradinggrid.server import create_server
from tests.conftest import APP_SECRET, EVENTS_SECRET, FIXTURES, make_settings
from tests.helpers import envelope, post_whatsapp, text
from tests import redis_servers
from tests.loopback import serve
from tests.flaky import Faults
from bench import stack
from bench.stack import BIN, ROOT, free_port
from tests.test_processes import stack_env, wait_http

MARIA = "14155550134"
pytestmark = pytest.mark.skipif(redis_servers.SERVER is None or os.environ.get("TGWA_TEST_REDIS") == "fake",
                                reason="needs redis-server to start one of its own")


class OwnRedis:
    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = redis_servers.start(self.port, self.folder, "--appendonly", "yes", "--appendfsync", "always")

    def crash(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.crash()


def start(command: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """`command` running; its output in `log` when given."""
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)


def post(base: str, message: dict, attempts: int = 1) -> int:  # type: ignore[type-arg]
    """Posts as Meta does, again after a 503 (up to `attempts` in all); the attempts it took."""
    raw = json.dumps(envelope(message)).encode()
    for attempt in range(1, attempts + 1):
        answer = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=10, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)})
        if answer.status_code != 503:
            break
    assert answer.status_code == 200
    return attempt


def wait_for(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("it did not happen in time")


def test_a_message_survives_redis_restarting_before_the_worker_sees_it(own_redis, graph, tradinggrid_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = stack_env(own_redis.url, graph.url, tradinggrid_url, FIXTURES / "directory.yaml", tmp_path)
    port = free_port()
    web = start(stack.web_command(port, workers=1), env)  # the Procfile's web line
    worker = None
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        post(f"http://127.0.0.1:{port}", text(MARIA, "help", message_id="wamid.before.crash"))  # Meta heard 200
        own_redis.crash()
        own_redis.start()  # from its append-only file
        worker = start([str(BIN / "tgwa"), "worker"], env)
        wait_for(lambda: graph.texts_to(MARIA), 30)
        assert len(graph.texts_to(MARIA)) == 1
        # The web process's connection died with that Redis, which also forgot the scripts: at
        # most one 503 (Meta delivers again), then the message is stored and answered once.
        assert post(f"http://127.0.0.1:{port}", text(MARIA, "help", message_id="wamid.after.crash"), attempts=3) <= 2
        wait_for(lambda: len(graph.texts_to(MARIA)) == 2, 30)
    finally:
        stack.stop([p for p in (web, worker) if p is not None])


@contextlib.contextmanager
def flaky_stack(own_redis: OwnRedis, graph, grid, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Maria's delayed case, a Trading Grid that fails on command, and the Procfile's web line;
    yields (faults, case, env, base, web) for the test to start and stop its workers."""
    faults = Faults(create_server(grid))
    case = grid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": "PO-4410093",
                             "summary": "late"}, idempotency_key="seed")
    with serve(faults) as tradinggrid_url:
        env = stack_env(own_redis.url, graph.url, tradinggrid_url, FIXTURES / "directory.yaml", tmp_path)
        port = free_port()
        yield faults, case, env, f"http://127.0.0.1:{port}", start(stack.web_command(port, workers=1), env)


def test_a_worker_killed_mid_job_loses_nothing_and_writes_nothing_twice(own_redis, graph, grid, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with flaky_stack(own_redis, graph, grid, tmp_path) as (faults, case, env, base, web):
        first = start([str(BIN / "tgwa"), "worker"], env)
        second = None
        try:
            wait_http(f"{base}/healthz")
            body = json.dumps({"id": "evt-kill", "type": "exception.logged", "occurred_at": "2026-11-24T09:00:00Z",
                               "case_id": case["id"], "partner_id": "GLOBEX", "issue_type": "shipment_delay",
                               "reference": "PO-4410093", "summary": "late", "thread_url": "https://tg.example.com/x"})
            ts = str(int(time.time()))
            assert requests.post(f"{base}/webhooks/tradinggrid", data=body, timeout=10, headers={
                "Content-Type": "application/json", "X-TG-Timestamp": ts,
                "X-TG-Signature": sign(EVENTS_SECRET, tradinggrid_payload(ts, body.encode()))}).status_code == 202
            wait_for(lambda: graph.texts_to(MARIA), 30)
            now = int(time.time())
            post(base, text(MARIA, "can do 12/3/2027", timestamp=now))
            wait_for(lambda: any("Is that right?" in t for t in graph.texts_to(MARIA)), 30)
            faults.delay = 5.0  # Trading Grid takes its time with the confirmed write...
            post(base, text(MARIA, "yes", timestamp=now + 1))
            wait_for(lambda: any(c.startswith("PATCH") for c in faults.calls), 30)
            first.send_signal(signal.SIGKILL)  # ...and the worker dies in the middle of it
            first.wait(10)
            faults.delay = 0.0
            second = start([str(BIN / "tgwa"), "worker"], env)
            # the job's heartbeat lapses in seconds (app.keeper), and the other worker retries it
            wait_for(lambda: any(t.startswith("Thanks Maria!") for t in graph.texts_to(MARIA)), 30)
            time.sleep(2)
            assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
            assert len(grid.audit(case["id"])["comments"]) == 1
            assert len([t for t in graph.texts_to(MARIA) if t.startswith("Thanks Maria!")]) == 1
        finally:
            stack.stop([p for p in (web, first, second) if p is not None])


def post_event(base: str, event: dict) -> None:  # type: ignore[type-arg]
    body = json.dumps(event)
    ts = str(int(time.time()))
    assert requests.post(f"{base}/webhooks/tradinggrid", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-TG-Timestamp": ts,
        "X-TG-Signature": sign(EVENTS_SECRET, tradinggrid_payload(ts, body.encode()))}).status_code == 202


@pytest.mark.parametrize("killed", [0, 1], ids=["first-worker", "second-worker"])
def test_a_write_waiting_for_its_retry_lands_whichever_worker_dies(killed, own_redis, graph, grid, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """RQ's scheduler ran in one worker, under a lock the others took over only in their
    ten-minute maintenance pass: killing that worker stalled every retry for minutes. Now any
    live worker moves due jobs each second. And each failed try is one warning line in the
    worker's log, not RQ's traceback: a passing failure is not a crash."""
    with flaky_stack(own_redis, graph, grid, tmp_path) as (faults, case, env, base, web):
        logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
        workers = [start([str(BIN / "tgwa"), "worker"], env, log) for log in logs]
        try:
            wait_http(f"{base}/healthz")
            time.sleep(1.5)  # both workers up: either may be the one that took the work
            post_event(base, {"id": "evt-retry", "type": "exception.logged", "occurred_at": "2026-11-24T09:00:00Z",
                              "case_id": case["id"], "partner_id": "GLOBEX", "issue_type": "shipment_delay",
                              "reference": "PO-4410093", "summary": "late", "thread_url": "https://tg.example.com/x"})
            wait_for(lambda: graph.texts_to(MARIA), 30)
            now = int(time.time())
            post(base, text(MARIA, "can do 12/3/2027", timestamp=now))
            wait_for(lambda: any("Is that right?" in t for t in graph.texts_to(MARIA)), 30)
            faults.fail(500, times=4)  # Trading Grid is down: the write waits for its retries
            post(base, text(MARIA, "yes", timestamp=now + 1))
            wait_for(lambda: sum(c.startswith("PATCH") for c in faults.calls) >= 2, 30)
            workers[killed].send_signal(signal.SIGKILL)
            workers[killed].wait(10)
            started = time.monotonic()
            wait_for(lambda: grid.get_case(case["id"])["expected_date"] == "2027-12-03", 45)
            assert time.monotonic() - started < 45
            wait_for(lambda: len(grid.audit(case["id"])["comments"]) == 1, 15)
            time.sleep(2)
            assert len(grid.audit(case["id"])["comments"]) == 1
        finally:
            stack.stop([web, *workers])
    written = "".join(log.read_text() for log in logs)
    assert "TransientError: PATCH /cases/" in written and "retried with backoff" in written
    assert "Traceback" not in written


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    """A Trading Grid that takes connections and never answers (an outage of the worst kind)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in held:
            connection.close()


def test_webhooks_answer_200_within_seconds_every_time_redis_comes_back(own_redis, graph, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Redis restarted ten times in a row while webhooks keep coming and readiness checks hang on
    a Trading Grid that never answers: each time, once Redis is back, the next webhook is 200
    within seconds (while it is down: 503, so Meta delivers again)."""
    stop = threading.Event()
    with hanging_server() as tradinggrid_url:
        env = stack_env(own_redis.url, graph.url, tradinggrid_url, FIXTURES / "directory.yaml", tmp_path)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        web = start(stack.web_command(port, workers=2), env)
        sent = itertools.count()

        def webhook(session: requests.Session) -> int:
            n = next(sent)
            raw = json.dumps(envelope(text(MARIA, f"note {n}", message_id=f"wamid.restart.{n}"),
                                      statuses=[{"id": f"wamid.out.{n}", "status": "delivered",
                                                 "timestamp": str(int(time.time())), "recipient_id": MARIA}])).encode()
            return session.post(f"{base}/webhooks/whatsapp", data=raw, timeout=30, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)}).status_code

        def keep_busy(call: Callable[[requests.Session], object]) -> None:
            session = requests.Session()
            while not stop.is_set():
                with contextlib.suppress(requests.RequestException):
                    call(session)

        busy = [threading.Thread(target=keep_busy, args=(webhook,), daemon=True) for _ in range(8)]
        busy += [threading.Thread(target=keep_busy, args=(lambda s: s.get(f"{base}/readyz", timeout=30),), daemon=True)
                 for _ in range(8)]
        try:
            wait_http(f"{base}/healthz")
            for thread in busy:
                thread.start()
            for _ in range(10):
                time.sleep(0.5)
                own_redis.crash()
                assert webhook(requests.Session()) == 503
                own_redis.start()
                back = time.monotonic()
                while webhook(requests.Session()) != 200:
                    assert time.monotonic() - back < 5, "webhooks still refused 5 s after Redis came back"
                    time.sleep(0.05)
        finally:
            stop.set()
            stack.stop([web])


def test_with_wait_replicas_meta_hears_200_only_once_a_replica_holds_the_message(tmp_path, graph, tradinggrid_url) -> None:  # type: ignore[no-untyped-def]
    """One Redis with one replica and REDIS_WAIT_REPLICAS=1: a webhook is 200 while the replica
    keeps up, 503 while it is stopped (the message is not yet safe from a failover), 200 again
    once it goes on."""
    (tmp_path / "primary").mkdir()
    (tmp_path / "replica").mkdir()
    primary_port, replica_port = free_port(), free_port()
    servers = [redis_servers.start(primary_port, tmp_path / "primary")]
    servers.append(redis_servers.start_replica(replica_port, tmp_path / "replica", primary_port))
    try:
        settings = make_settings(tmp_path, graph.url, tradinggrid_url, REDIS_URL=f"redis://127.0.0.1:{primary_port}/0",
                                 REDIS_WAIT_REPLICAS="1", REDIS_WAIT_TIMEOUT_MS="1000")
        client = create_app(rt=runtime.build(settings), start_worker=False).test_client()
        assert post_whatsapp(client, envelope(text(MARIA, "help"))).status_code == 200
        os.kill(servers[1].pid, signal.SIGSTOP)
        try:
            assert post_whatsapp(client, envelope(text(MARIA, "help"))).status_code == 503
        finally:
            os.kill(servers[1].pid, signal.SIGCONT)
        assert post_whatsapp(client, envelope(text(MARIA, "help"))).status_code == 200
    finally:
        stack.stop(servers, grace=5)


def test_a_message_that_left_while_redis_went_away_is_not_sent_again(own_redis, tmp_path, tradinggrid_url) -> None:  # type: ignore[no-untyped-def]
    """Redis restarts in the moment between a message leaving for WhatsApp and its being recorded
    as sent: the record waits for Redis instead of failing the turn, whose retry would send the
    message a second time."""
    sent: list[dict] = []  # type: ignore[type-arg]
    meta = Flask("meta-while-redis-restarts")

    @meta.post("/v23.0/<number>/messages")
    def accept(number: str):  # type: ignore[no-untyped-def]
        sent.append(flask_request.get_json())
        own_redis.crash()  # Redis goes away just as Meta takes the message...
        threading.Timer(1.0, own_redis.start).start()  # ...and is back a second later
        return {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.left.{len(sent)}"}]}

    with serve(meta) as meta_url:
        settings = make_settings(tmp_path, meta_url, tradinggrid_url, REDIS_URL=own_redis.url)
        rt = runtime.build(settings)
        payload = messages.text(MARIA, "Thanks Maria!")
        assert outbound.send_now(rt, payload, "wamid.in.1:reply:0") == "wamid.left.1"
        assert outbound.send_now(rt, payload, "wamid.in.1:reply:0") == "wamid.left.1", "a retry finds it sent"
    assert len(sent) == 1


def test_a_worker_killed_as_meta_takes_its_reply_does_not_send_it_again(own_redis, graph, tradinggrid_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The worker dies in the moment Meta takes the reply, before it can record that the reply
    left (the soak's doubles). Graph's send cannot deduplicate; Meta's `sent` status, which names
    the send's record in its callback data, tells the worker that tries again."""
    env = stack_env(own_redis.url, graph.url, tradinggrid_url, FIXTURES / "directory.yaml", tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start(stack.web_command(port, workers=1), env)
    first = start([str(BIN / "tgwa"), "worker"], env)
    second = None

    def die_as_taken(payload: dict) -> None:  # type: ignore[type-arg]
        graph.on_take = None
        first.send_signal(signal.SIGKILL)  # the answer to this send never reaches the worker

    try:
        wait_http(f"{base}/healthz")
        graph.report_to(f"{base}/webhooks/whatsapp", APP_SECRET)
        graph.on_take = die_as_taken
        post(base, text(MARIA, "help", message_id="wamid.help"))
        wait_for(lambda: first.poll() is not None, 30)
        second = start([str(BIN / "tgwa"), "worker"], env)
        post(base, text(MARIA, "my cases", message_id="wamid.after"))
        wait_for(lambda: len(graph.sent) >= 2, 45)
        time.sleep(2)
        quoted = [(p.get("context") or {}).get("message_id") for p in graph.sent]
        assert quoted == ["wamid.help", "wamid.after"], "each answered once, in order"
        assert all(p["biz_opaque_callback_data"].startswith("tgwa:{c:") for p in graph.sent)
    finally:
        stack.stop([p for p in (web, first, second) if p is not None])
