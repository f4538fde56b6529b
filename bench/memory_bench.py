"""Memory: Redis bytes per active conversation, and resident memory of the Procfile's processes.

    make bench-memory   (or: .venv/bin/python -m bench.memory_bench [--conversations N])

N partner contacts each get a shipment-delay notice from Trading Grid, answer it with a new date,
and are asked to confirm: N conversations open and waiting, as they are mid-day. Redis's
`used_memory` is read before and after (everything the deployment keeps, RQ's bookkeeping
included), and each tgwa key family's share is measured with MEMORY USAGE. Resident memory (RSS)
of the gunicorn web workers and the `tgwa worker` processes is read from /proc. Needs Redis
(REDIS_URL, default redis://127.0.0.1:6379/13; flushed).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.signatures import sign, tradinggrid_payload  # noqa: E402
from bench import loopback_graph, stack  # noqa: E402

SECRET, EVENTS_SECRET = "memory-app-secret", "memory-events-secret"
PACE_KEYS_SECONDS = 60  # pacing keys outlive their last reserved moment by a second; then only what a conversation keeps is left
CONVERSATION = ("tgwa:{c:X}", "tgwa:msg:")  # per contact, and per message sent to it


def _sent(r: redis.Redis) -> int:
    return sum(int(r.hget(key, "sent") or 0) for key in r.scan_iter("tgwa:stats:*"))


def _wait_for_sends(r: redis.Redis, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while _sent(r) < count:
        if time.monotonic() > deadline:
            sys.exit(f"only {_sent(r)} of {count} messages were sent")
        time.sleep(0.2)
    time.sleep(1.0)  # the last records and statuses settle


def _post_event(session: requests.Session, base: str, n: int) -> None:
    body = json.dumps({"id": f"evt-mem-{n}", "type": "exception.logged", "occurred_at": "2026-11-24T09:00:00Z",
                       "case_id": f"CASE-{10000 + n}", "partner_id": f"P{n:04d}", "issue_type": "shipment_delay",
                       "reference": f"PO-{4400000 + n}", "summary": "Shipment delayed at the port",
                       "thread_url": f"https://tg.example.com/cases/CASE-{10000 + n}"}).encode()
    ts = str(int(time.time()))
    answer = session.post(f"{base}/webhooks/tradinggrid", data=body, timeout=30, headers={
        "Content-Type": "application/json", "X-TG-Timestamp": ts,
        "X-TG-Signature": sign(EVENTS_SECRET, tradinggrid_payload(ts, body))})
    assert answer.status_code == 202, answer.text


def _post_reply(session: requests.Session, base: str, n: int) -> None:
    wa_id = stack.phone(n, per_partner=1)
    raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1"},
        "contacts": [{"profile": {"name": f"Contact {n}"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": f"wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0VCMDRGQz{n:014d}AA==", "timestamp": str(int(time.time())), "type": "text",
                      "text": {"body": "can do 12/3"}}]}}]}]}).encode()
    answer = session.post(f"{base}/webhooks/whatsapp", data=raw, timeout=30, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, raw)})
    assert answer.status_code == 200, answer.text


def family(key: str) -> str:
    """`tgwa:{c:447700000012}:out:evt-3:447700000012` -> `tgwa:{c:X}:out:*`."""
    parts = re.sub(r"\{c:[^}]+\}", "{c=X}", key).split(":")
    keep = 3 if parts[1:2] == ["{c=X}"] else 2 if parts[0] == "rq" or parts[1:2] in (
        ["msg"], ["event"], ["stats"], ["broadcast"]) else len(parts)
    return (":".join(parts[:keep]) + (":*" if keep < len(parts) else "")).replace("{c=X}", "{c:X}")


def measure(r: redis.Redis) -> dict[str, list[int]]:
    """Key count and MEMORY USAGE bytes per key family."""
    sizes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key in r.scan_iter(count=1000):
        size = sizes[family(key)]
        size[0] += 1
        size[1] += int(r.memory_usage(key, samples=0) or 0)
    return sizes


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=2000)
    args = parser.parse_args()
    n = args.conversations
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    r = redis.Redis.from_url(url, decode_responses=True)
    r.flushdb()
    work = Path(tempfile.mkdtemp(prefix="tgwa-memory-"))
    stack.directory(n, work / "directory.yaml", per_partner=1)
    graph_port = stack.free_port()
    loopback_graph.start(graph_port, str(work / "sent.json"), 2 * n)
    env = {"REDIS_URL": url, "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_VERIFY_TOKEN": "memory",
           "WHATSAPP_ACCESS_TOKEN": "memory", "WHATSAPP_PHONE_NUMBER_ID": "1",
           "WHATSAPP_API_BASE": f"http://127.0.0.1:{graph_port}/v23.0", "WHATSAPP_MAX_MPS": "100000",
           "QUIET_HOURS": "off", "TRADING_GRID_EVENTS_SECRET": EVENTS_SECRET, "DIRECTORY_FILE": str(work / "directory.yaml"),
           "DATA_DIR": str(work)}
    with stack.running(env, 2, 2) as running:
        time.sleep(2)
        before = int(r.info("memory")["used_memory"])
        session = requests.Session()
        for k in range(n):
            _post_event(session, running.base, k)
        _wait_for_sends(r, n)
        for k in range(n):
            _post_reply(session, running.base, k)
        _wait_for_sends(r, 2 * n)
        after = int(r.info("memory")["used_memory"])
        sizes = measure(r)
        web = [pid for process in running.processes[:1] for pid in children(process.pid)]
        workers = [process.pid for process in running.processes[1:]]
        rss = {"web worker (gunicorn)": [rss_mb(pid) for pid in web], "tgwa worker": [rss_mb(pid) for pid in workers]}
        time.sleep(PACE_KEYS_SECONDS)
        later = int(r.info("memory")["used_memory"])
        quiet = measure(r)
    print(f"Memory, {n:,} conversations open and waiting for a confirmation (1 notice, 1 answer, 1 question "
          f"each), 2 web + 2 worker processes, Redis {r.info('server')['redis_version']}:\n")
    print("| measure | just after | a minute later |")
    print("|---|---|---|")

    def own(found: dict[str, list[int]]) -> int:
        return sum(size for name, (_, size) in found.items() if name.startswith(CONVERSATION))

    print(f"| Redis used_memory per conversation, everything (RQ, events) | {(after - before) / n:,.0f} B "
          f"| {(later - before) / n:,.0f} B |")
    print(f"| **a conversation's own keys** (MEMORY USAGE) | **{own(sizes) / n:,.0f} B** | **{own(quiet) / n:,.0f} B** |")
    for name in sorted(sizes, key=lambda name: -sizes[name][1]):
        if sizes[name][1] >= n:  # at least a byte per conversation
            count, size = sizes[name]
            print(f"| · `{name}` ({count:,} keys, then {quiet[name][0]:,}) | {size / n:,.0f} B | {quiet[name][1] / n:,.0f} B |")
    print("\n| process | resident memory (RSS) each |\n|---|---|")
    for name, values in rss.items():
        print(f"| {name} | {', '.join(f'{v:.0f} MB' for v in values)} |")


if __name__ == "__main__":
    main()
