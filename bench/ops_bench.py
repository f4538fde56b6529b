"""/ops at scale: the operator's page with 20,000 contacts, each with an open alert thread and
inside the 24-hour window, 200 parked items and 100 notifications with delivery counts.

    make bench-ops   (or: .venv/bin/python -m bench.ops_bench [--contacts N] [--requests R])

Serves the Procfile's web process against Redis (REDIS_URL, default redis://127.0.0.1:6379/13;
flushed) and times R requests each of the JSON overview, the HTML page and, as the baseline run
beside them on the same server, `/healthz`; prints each one's median and p95 and the overview's
size. Before pagination and the census, the same overview read and inflated every conversation
three times: 7.6 to 9 s and 2 MB a request at 20,000 contacts.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import keyspace, parked  # noqa: E402
from bench import stack  # noqa: E402
from conversations import census, threads  # noqa: E402


def fill(r: redis.Redis, contacts: int) -> None:
    now = time.time()
    value = threads.encode({"threads": {"alert:AL-1": {"flow": "alert", "state": "awaiting_ack", "slots": {},
                                                     "opened_at": now, "updated_at": now}}, "session": {}, "sent": {}})
    phones = [stack.phone(n) for n in range(contacts)]
    for start in range(0, contacts, 1000):
        pipe = r.pipeline(transaction=False)
        for phone in phones[start:start + 1000]:
            pipe.set(keyspace.conversation_key(phone), value)
        pipe.zadd(keyspace.WINDOWS, {phone: int(now) - 60 for phone in phones[start:start + 1000]})
        pipe.execute()
    census.rebuild(r, threads.decode)
    for n in range(200):
        parked.park(r, "write", f"Trading Grid refused it ({n})", {"n": n})
    pipe = r.pipeline(transaction=False)
    for n in range(100):
        pipe.hset(keyspace.stats_key(f"event:evt-{n}"), mapping={"sent": 200, "delivered": 150, "read": 90})
        pipe.zadd(keyspace.NOTIFICATIONS_INDEX, {f"event:evt-{n}": now - n})
    pipe.execute()


def timed(session: requests.Session, url: str, requests_: int, headers: dict[str, str]) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(requests_):
        started = time.perf_counter()
        answer = session.get(url, headers=headers, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
        size = len(answer.content)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    r = redis.Redis.from_url(url)
    r.flushdb()
    with tempfile.TemporaryDirectory() as folder:
        directory = stack.directory(args.contacts, Path(folder) / "directory.yaml")
        fill(r, args.contacts)
        env = {"REDIS_URL": url, "APP_ENV": "development", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v",
               "QUIET_HOURS": "off", "TRADING_GRID_EVENTS_SECRET": "e", "DIRECTORY_FILE": str(directory), "DATA_DIR": folder}
        with stack.running(env, web_workers=1, workers=0) as running:
            session = requests.Session()
            rows = []
            for name, path, headers in (("GET /healthz (baseline)", "/healthz", {}),
                                        ("GET /ops (JSON)", "/ops", {"Accept": "application/json"}),
                                        ("GET /ops (page)", "/ops", {"Accept": "text/html"})):
                timed(session, running.base + path, 3, headers)  # warm
                times, size = timed(session, running.base + path, args.requests, headers)
                rows.append((name, statistics.median(times), sorted(times)[int(len(times) * 0.95) - 1], size))
    r.flushdb()
    baseline = rows[0][1]
    print(f"/ops with {args.contacts:,} contacts (one open alert thread each), 200 parked, 100 notifications; "
          f"{args.requests} requests each")
    print(f"{'request':<26}{'median ms':>11}{'p95 ms':>9}{'bytes':>9}{'× baseline':>12}")
    for name, median, p95, size in rows:
        print(f"{name:<26}{median:>11.1f}{p95:>9.1f}{size:>9,}{median / baseline:>12.1f}")


if __name__ == "__main__":
    main()
