"""What waiting for a replica costs: recording an inbound message (what the webhook does before
its 200) with REDIS_WAIT_REPLICAS=0 and =1, side by side, against a Redis with one replica.

    make bench-wait   (or: .venv/bin/python -m bench.wait_bench [--messages N])

Starts a primary and its replica (Debian's redis-server, loopback, append-only file with fsync
every second on both) and records N messages one at a time, each from its own contact, through
the web process's own path (its group commit, its connection); prints the median and p99 of each
and their ratio. Meta's webhooks arrive together, so in production several share one wait.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import ingest, runtime  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.whatsapp.inbound import InboundMessage  # noqa: E402
from bench import stack  # noqa: E402
from tests import redis_servers  # noqa: E402


def record(rt: runtime.Runtime, messages: int, tag: str) -> list[float]:
    times = []
    for n in range(messages):
        message = InboundMessage(id=f"wamid.{tag}.{n:060d}", sender=f"4477{n:08d}", timestamp=int(time.time()),
                                 type="text", text="can do 3/12")
        started = time.perf_counter()
        ingest.group_commit(rt).submit([message])
        times.append((time.perf_counter() - started) * 1e6)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        primary_port, replica_port = stack.free_port(), stack.free_port()
        durable = ("--appendonly", "yes", "--appendfsync", "everysec")
        for name in ("primary", "replica"):
            (Path(folder) / name).mkdir()
        processes = [redis_servers.start(primary_port, Path(folder) / "primary", *durable)]
        processes.append(redis_servers.start_replica(replica_port, Path(folder) / "replica", primary_port, *durable))
        try:
            directory = stack.directory(10, Path(folder) / "directory.yaml")
            rows = []
            for replicas in (0, 1):
                settings = Settings.from_mapping({
                    "REDIS_URL": f"redis://127.0.0.1:{primary_port}/0", "DIRECTORY_FILE": str(directory),
                    "DATA_DIR": folder, "REDIS_WAIT_REPLICAS": str(replicas)})
                rt = runtime.build(settings)
                record(rt, 200, f"warm{replicas}")
                times = sorted(record(rt, args.messages, f"run{replicas}"))
                rows.append((replicas, statistics.median(times), times[int(len(times) * 0.99) - 1]))
        finally:
            stack.stop(processes, grace=5)
    print(f"recording one inbound message, {args.messages:,} one after another, Redis with one replica on loopback")
    print(f"{'REDIS_WAIT_REPLICAS':<22}{'median µs':>11}{'p99 µs':>9}{'× without':>11}")
    for replicas, median, p99 in rows:
        print(f"{replicas:<22}{median:>11.0f}{p99:>9.0f}{median / rows[0][1]:>11.2f}")


if __name__ == "__main__":
    main()
