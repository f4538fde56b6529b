"""A 10,000-contact alert broadcast at WHATSAPP_MAX_MPS=1000 through the Procfile's processes
(gunicorn web, `tgwa worker`s) and real Redis, against a loopback Graph server.

    make bench-broadcast   (or: .venv/bin/python -m bench.broadcast_bench [--contacts N] [--mps R] [--workers M])

Baseline: the ideal time, contacts / mps. Prints the time from the event's POST to the last
message's arrival, its ratio to the ideal, and the most messages that arrived in any one second.
Needs a Redis server (REDIS_URL, default redis://127.0.0.1:6379/13; it is flushed).
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.signatures import sign, tradinggrid_payload  # noqa: E402
from bench import loopback_graph, stack  # noqa: E402

SECRET = "bench-events-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def directory(contacts: int, path: Path) -> None:
    lines = ["partners:"]
    for n in range(contacts // 10):  # ten contacts a partner
        lines += [f"  - id: P{n:04d}", f"    name: Partner {n}", "    region: EMEA", "    country: GB", "    contacts:"]
        lines += [f'      - {{name: "Contact {n}-{k}", phone: "+44 7700 {n:04d}{k:02d}", opt_in: true}}' for k in range(10)]
    path.write_text("\n".join(lines + ["staff: []", "groups: []"]) + "\n")


def max_in_one_second(arrivals: list[float]) -> int:
    arrivals = sorted(arrivals)
    return max((bisect.bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals)), default=0)


class Sampler(threading.Thread):
    """Every half second while the broadcast runs: Redis's memory, and each process's resident size."""

    def __init__(self, connection: redis.Redis, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.connection, self.pids = connection, pids
        self.redis: list[int] = []
        self.rss: dict[int, list[int]] = {pid: [] for pid in pids}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.redis.append(int(self.connection.info("memory")["used_memory"]))
            for pid in self.pids:
                self.rss[pid].append(rss(pid))
            self.stopping.wait(0.5)


def rss(pid: int) -> int:
    """A process's resident size in bytes (0 once it is gone), with its gunicorn workers for the master."""
    total = 0
    for each in [pid, *stack.children(pid)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--mps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--histogram", action="store_true", help="print messages per second too")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    redis.Redis.from_url(redis_url).flushdb()
    work = Path(tempfile.mkdtemp(prefix="tgwa-bench-"))
    directory(args.contacts, work / "directory.yaml")
    graph_port, web_port = free_port(), free_port()
    arrivals_path = work / "arrivals.json"
    graph = loopback_graph.start(graph_port, str(arrivals_path), args.contacts)
    env = {**os.environ, "REDIS_URL": redis_url, "WHATSAPP_APP_SECRET": "bench", "WHATSAPP_VERIFY_TOKEN": "bench",
           "WHATSAPP_ACCESS_TOKEN": "bench", "WHATSAPP_PHONE_NUMBER_ID": "1",
           "WHATSAPP_API_BASE": f"http://127.0.0.1:{graph_port}/v23.0", "WHATSAPP_MAX_MPS": str(args.mps),
           "QUIET_HOURS": "off", "TRADING_GRID_EVENTS_SECRET": SECRET, "DIRECTORY_FILE": str(work / "directory.yaml"), "DATA_DIR": str(work)}
    bin_dir = Path(sys.executable).parent
    processes = [subprocess.Popen([str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{web_port}", "--workers", "1",
                                   "app:create_app()"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)]
    processes += [subprocess.Popen([str(bin_dir / "tgwa"), "worker"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(args.workers)]
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{web_port}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        time.sleep(2)  # workers connected
        connection = redis.Redis.from_url(redis_url)
        before = int(connection.info("memory")["used_memory"])
        sampler = Sampler(connection, [p.pid for p in processes])
        sampler.start()
        body = json.dumps({"id": "bench-alert", "type": "alert.broadcast", "occurred_at": "2026-11-24T09:00:00Z",
                           "alert_id": "AL-BENCH", "category": "port_closure", "severity": "high", "title": "Port closed",
                           "message": "Expect delays", "targeting": {"regions": ["emea"]}, "requires_ack": False}).encode()
        ts = str(int(time.time()))
        start = time.time()
        answer = requests.post(f"http://127.0.0.1:{web_port}/webhooks/tradinggrid", data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-TG-Timestamp": ts,
            "X-TG-Signature": sign(SECRET, tradinggrid_payload(ts, body))})
        assert answer.status_code == 202, answer.text
        graph.join(700)
        sampler.stopping.set()
        sampler.join()
    finally:
        stack.stop(processes)
    arrivals = json.loads(arrivals_path.read_text())
    ideal = args.contacts / args.mps
    took = max(arrivals) - start if arrivals else float("nan")
    peak = max_in_one_second(arrivals)
    print(f"Broadcast of {args.contacts:,} contacts at WHATSAPP_MAX_MPS={args.mps}, {args.workers} workers, "
          f"2-core machine:\n")
    print("| measure | value | baseline | ratio |")
    print("|---|---|---|---|")
    print(f"| messages arrived at Graph | {len(arrivals):,} | {args.contacts:,} | {len(arrivals) / args.contacts:.2f} |")
    print(f"| event POST to last arrival | {took:.2f} s | ideal {ideal:.2f} s | {took / ideal:.3f}× |")
    print(f"| event POST to first arrival | {min(arrivals) - start:.2f} s | | |")
    print(f"| most in any one second | {peak} | cap {args.mps} | {peak / args.mps:.3f} |")
    peak_redis = max(sampler.redis) - before
    print(f"| Redis memory at its most, over before | {peak_redis / 1e6:.1f} MB | | {peak_redis / args.contacts:.0f} B a recipient |")
    for name, pid in zip(["web"] + [f"worker {n + 1}" for n in range(args.workers)], sampler.pids):
        sizes = [size for size in sampler.rss[pid] if size]
        third = max(1, len(sizes) // 3)
        print(f"| {name} resident memory, first third → last third of the run | "
              f"{max(sizes[:third]) / 1e6:.0f} MB → {max(sizes[-third:]) / 1e6:.0f} MB | | "
              f"{max(sizes[-third:]) / max(sizes[:third]):.2f} |")
    if args.histogram:
        seconds = [int(t - start) for t in arrivals]
        print("\nper second:", [seconds.count(s) for s in range(max(seconds) + 1)])


if __name__ == "__main__":
    main()
