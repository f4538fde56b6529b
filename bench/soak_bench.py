"""A soak with faults: partners write at a steady rate for a long while, and meanwhile a worker is
killed with SIGKILL every 30 seconds, Redis is restarted twice, Trading Grid answers 500 for 20
seconds and Graph 429 for 20 seconds. Every message must be answered once and in order, every
confirmed write land once.

    make bench-soak   (or: .venv/bin/python -m bench.soak_bench [--minutes M] [--rate R] [--contacts C])

The Procfile's processes (one gunicorn web worker, two `tgwa worker`s, a killed one replaced at
once) run against a redis-server of its own (append-only file, fsync always); Graph and Trading
Grid are loopback servers in this process that fail on schedule. Each contact first hears of a
shipment delay, answers with a date, confirms, and then asks for help or the case's status, one
message every C/R seconds; the senders play Meta, delivering a contact's messages in order and
again after a 503, and Graph posts each message's `sent` status back, as Meta does. `run` is what
the test suite calls, in a two-minute form.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import keyspace  # noqa: E402
from app.signatures import sign, tradinggrid_payload  # noqa: E402
from app.tradinggrid.embedded import EmbeddedTradingGrid  # noqa: E402
from app.tradinggrid.server import create_server  # noqa: E402
from bench import stack  # noqa: E402
from tests import redis_servers  # noqa: E402
from tests.fake_graph import PHONE_NUMBER_ID, TOKEN, FakeGraph  # noqa: E402
from tests.flaky import Faults  # noqa: E402
from tests.loopback import serve  # noqa: E402

SECRET, EVENTS_SECRET = "soak-app-secret", "soak-events-secret"
SENDERS = 8
KILL_EVERY_SECONDS = 30
OUTAGE_SECONDS = 20


@dataclasses.dataclass
class Result:
    messages: int
    answered: int
    lost: int
    doubled: int
    out_of_order: int
    parked: int
    writes: int
    written_once: int
    written_twice: int
    kills: int
    redis_restarts: int
    seconds: float
    problems: list[str] = dataclasses.field(default_factory=list)  # a few examples of what went wrong

    def lines(self) -> list[str]:
        return [f"{self.messages:,} messages in {self.seconds:.0f} s, {self.kills} workers killed, "
                f"{self.redis_restarts} Redis restarts, Trading Grid 500 and Graph 429 for {OUTAGE_SECONDS} s each",
                f"answered once: {self.answered:,}   lost: {self.lost}   doubled: {self.doubled}   "
                f"out of order: {self.out_of_order} contacts   parked: {self.parked}",
                f"confirmed writes: {self.writes}   landed once: {self.written_once}   "
                f"landed twice: {self.written_twice}", *self.problems]


class OwnRedis:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, stack.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = self.start()

    def start(self) -> subprocess.Popen[bytes]:
        self.process = redis_servers.start(self.port, self.folder, "--appendonly", "yes", "--appendfsync", "always")
        return self.process

    def restart(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self.start()


def _messages(contacts: int, total: int) -> list[tuple[str, str, str]]:
    """(contact, message id, text) in sending order: round robin over the contacts."""
    out = []
    for n in range(total):
        contact, turn = n % contacts, n // contacts
        words = (f"PO-{4400000 + contact}: can do {contact % 27 + 1}/12/2027" if turn == 0 else
                 "yes" if turn == 1 else "help" if turn % 2 == 0 else f"status CASE-{1001 + contact}")
        out.append((stack.phone(contact), f"wamid.soak.{n:06d}", words))
    return out


def _post(session: requests.Session, base: str, raw: bytes, headers: dict[str, str]) -> None:
    """As Meta delivers: again and again until it is taken (503 while Redis is away)."""
    while True:
        try:
            if session.post(base, data=raw, timeout=10, headers=headers).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)


def run(minutes: float, rate: float, contacts: int) -> Result:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the loopback servers' request lines
    duration = minutes * 60
    total = int(duration * rate)
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        own = OwnRedis(folder)
        grid = EmbeddedTradingGrid(folder / "tradinggrid.sqlite3")
        faults, graph = Faults(create_server(grid)), FakeGraph()
        cases = [grid.create_case({"partner_id": f"P{n // 10:04d}", "issue_type": "shipment_delay",
                                   "reference": f"PO-{4400000 + n}", "summary": "late"}, idempotency_key=f"seed-{n}")
                 for n in range(contacts)]
        with serve(faults) as tradinggrid_url, serve(graph.app) as graph_url:
            env = {**os.environ, "REDIS_URL": own.url, "APP_ENV": "development", "WHATSAPP_APP_SECRET": SECRET,
                   "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_ACCESS_TOKEN": TOKEN,
                   "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID, "WHATSAPP_API_BASE": f"{graph_url}/v23.0",
                   "WHATSAPP_MAX_MPS": "500", "TRADING_GRID_URL": tradinggrid_url,
                   "QUIET_HOURS": "off", "TRADING_GRID_EVENTS_SECRET": EVENTS_SECRET, "DATA_DIR": str(folder),
                   "DIRECTORY_FILE": str(stack.directory(contacts, folder / "directory.yaml"))}
            port = stack.free_port()
            base = f"http://127.0.0.1:{port}"
            web = subprocess.Popen(stack.web_command(port, workers=1), cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def worker() -> subprocess.Popen[bytes]:
                return subprocess.Popen([str(stack.BIN / "tgwa"), "worker"], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            workers = [worker(), worker()]
            try:
                return _soak(own, faults, graph, grid, cases, base, workers, worker, duration, rate, contacts, total)
            finally:
                stack.stop([web, *workers])
                own.process.kill()


def _soak(own: OwnRedis, faults: Faults, graph: FakeGraph, grid: EmbeddedTradingGrid, cases: list[dict],  # type: ignore[type-arg]
          base: str, workers: list[subprocess.Popen[bytes]], worker: Callable[[], subprocess.Popen[bytes]],
          duration: float, rate: float, contacts: int, total: int) -> Result:
    stack.wait_healthy(base)
    graph.report_to(f"{base}/webhooks/whatsapp", SECRET)  # Meta's `sent` statuses, as in production
    session = requests.Session()
    for case in cases:  # each contact hears of its case's delay first
        body = json.dumps({"id": f"evt-{case['id']}", "type": "exception.logged", "occurred_at": "2026-11-24T09:00:00Z",
                           "case_id": case["id"], "partner_id": case["partner_id"], "issue_type": "shipment_delay",
                           "reference": case["reference"], "summary": "late",
                           "thread_url": f"https://tg.example.com/cases/{case['id']}"}).encode()
        ts = str(int(time.time()))
        _post(session, f"{base}/webhooks/tradinggrid", body, {
            "Content-Type": "application/json", "X-TG-Timestamp": ts,
            "X-TG-Signature": sign(EVENTS_SECRET, tradinggrid_payload(ts, body))})
    deadline = time.monotonic() + 120
    while len(graph.sent) < contacts and time.monotonic() < deadline:
        time.sleep(0.2)
    told = len(graph.sent)

    plan = _messages(contacts, total)
    started = time.time()
    lanes: list[list[tuple[float, str, str, str]]] = [[] for _ in range(SENDERS)]
    for n, (phone, message_id, words) in enumerate(plan):
        lanes[int(phone[-6:]) % SENDERS].append((started + n / rate, phone, message_id, words))

    def send(lane: list[tuple[float, str, str, str]]) -> None:
        own_session = requests.Session()
        for at, phone, message_id, words in lane:
            time.sleep(max(0.0, at - time.time()))
            message = {"from": phone, "id": message_id, "timestamp": str(int(at)), "type": "text",
                       "text": {"body": words}}
            raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
                "field": "messages", "value": {"messaging_product": "whatsapp", "messages": [message]}}]}]}).encode()
            _post(own_session, f"{base}/webhooks/whatsapp", raw,
                  {"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, raw)})

    senders = [threading.Thread(target=send, args=(lane,), daemon=True) for lane in lanes]
    for thread in senders:
        thread.start()
    kills, restarts = 0, 0
    faults_at: list[tuple[float, str]] = []  # (seconds since the start, what was done), to explain a double
    schedule = {"redis": [0.3 * duration, 0.7 * duration], "tradinggrid": 0.2 * duration, "graph": 0.5 * duration}
    next_kill = KILL_EVERY_SECONDS
    while any(thread.is_alive() for thread in senders) or time.time() - started < duration:
        elapsed = time.time() - started
        if elapsed >= next_kill:
            victim = workers.pop(0)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            workers.append(worker())
            kills, next_kill = kills + 1, next_kill + KILL_EVERY_SECONDS
            faults_at.append((elapsed, "worker killed"))
        if schedule["redis"] and elapsed >= schedule["redis"][0]:
            schedule["redis"].pop(0)
            own.restart()
            restarts += 1
            faults_at.append((elapsed, "Redis restarted"))
        if schedule["tradinggrid"] is not None and elapsed >= schedule["tradinggrid"]:
            faults.fail_for(OUTAGE_SECONDS, 500)
            schedule["tradinggrid"] = None
        if schedule["graph"] is not None and elapsed >= schedule["graph"]:
            graph.fail_for(OUTAGE_SECONDS, 429, 130429)
            schedule["graph"] = None
        time.sleep(0.2)

    expected = {message_id for _, message_id, _ in plan}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        answered = {(p.get("context") or {}).get("message_id") for p in graph.sent[told:]}
        if expected <= answered and all(_written(grid, case) for case in cases):
            break
        time.sleep(1)
    time.sleep(3)  # anything sent twice would arrive now
    seconds = time.time() - started
    replies: dict[str, int] = defaultdict(int)
    order: dict[str, list[str]] = defaultdict(list)
    for payload in graph.sent[told:]:
        quoted = (payload.get("context") or {}).get("message_id")
        if quoted in expected:
            replies[quoted] += 1
            order[payload["to"]].append(quoted)
    sent_order: dict[str, list[str]] = defaultdict(list)
    for phone, message_id, _ in plan:
        sent_order[phone].append(message_id)
    disordered = [phone for phone, ids in sent_order.items() if list(dict.fromkeys(order[phone])) != ids]
    problems = [f"out of order, {phone}: sent {sent_order[phone][:8]}..., answered {order[phone][:8]}..."
                for phone in disordered[:2]]
    comments = [len(grid.audit(case["id"])["comments"]) for case in cases]
    problems += [_explain_double(graph, told, started, quoted, faults_at)
                 for quoted in [m for m in expected if replies[m] > 1][:3]]
    parked_items = [json.loads(raw) for raw in redis.Redis.from_url(own.url).hvals(keyspace.PARKED)]
    problems += [f"parked: {item['kind']}: {item['reason']}" for item in parked_items[:3]]
    return Result(messages=total, answered=sum(1 for m in expected if replies[m] == 1),
                  lost=sum(1 for m in expected if replies[m] == 0), doubled=sum(1 for m in expected if replies[m] > 1),
                  out_of_order=len(disordered), parked=len(parked_items), writes=len(cases),
                  written_once=sum(1 for case, c in zip(cases, comments) if c == 1 and _written(grid, case)),
                  written_twice=sum(1 for c in comments if c > 1), kills=kills, redis_restarts=restarts,
                  seconds=seconds, problems=problems)


def _explain_double(graph: FakeGraph, told: int, started: float, quoted: str,
                    faults_at: list[tuple[float, str]]) -> str:
    """When each copy of a doubled answer reached Meta, and the fault nearest the first."""
    times = [at - started for payload, at in zip(graph.sent[told:], graph.sent_at[told:])
             if (payload.get("context") or {}).get("message_id") == quoted]
    nearest = min(faults_at, key=lambda fault: abs(fault[0] - times[0]), default=(0.0, "no fault"))
    return (f"doubled, the answer to {quoted}: sent at " + ", ".join(f"{t:.2f} s" for t in times)
            + f"; nearest fault: {nearest[1]} at {nearest[0]:.2f} s")


def _written(grid: EmbeddedTradingGrid, case: dict) -> bool:  # type: ignore[type-arg]
    return bool(grid.get_case(case["id"])["expected_date"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--contacts", type=int, default=500)
    args = parser.parse_args()
    result = run(args.minutes, args.rate, args.contacts)
    for line in result.lines():
        print(line)
    if result.lost or result.doubled or result.out_of_order or result.written_twice:
        sys.exit(1)


if __name__ == "__main__":
    main()
