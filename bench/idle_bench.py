"""What tgwa costs when nobody writes: the CPU its processes use while idle, beside gunicorn
serving a bare Flask endpoint the same way (the floor any web process on this server pays).

    make bench-idle   (or: .venv/bin/python -m bench.idle_bench [--seconds S])

Each runs on its own after a few seconds to settle, and its CPU (user + system, every process
of it: gunicorn's master and workers) is read from /proc before and after S seconds:
- `tgwa demo` (embedded store and Trading Grid, the worker on a thread beside the web app);
- the Procfile's `web` (2 gunicorn workers) on a Redis of its own;
- one `tgwa worker` (its keeper thread beats every second) on that Redis;
- the baseline: the Procfile's `web` line serving bench.ingest_apps' bare Flask endpoint.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import stack  # noqa: E402
from tests import redis_servers  # noqa: E402

SETTLE_SECONDS = 6
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(root: int) -> float:
    """User and system CPU of `root` and every process below it, so far."""
    total = 0.0
    for pid in [root, *_descendants(root)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return total


def _descendants(root: int) -> list[int]:
    children = Path(f"/proc/{root}/task/{root}/children")
    found = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    return found + [grand for child in found for grand in _descendants(child)]


def idle(command: list[str], env: dict[str, str], seconds: float) -> float:
    """The share of one core `command` uses, idle, over `seconds`."""
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(SETTLE_SECONDS)
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} stopped at once (exit {process.returncode})")
        before = cpu_seconds(process.pid)
        time.sleep(seconds)
        return (cpu_seconds(process.pid) - before) / seconds
    finally:
        stack.stop([process])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        port = stack.free_port()
        redis_process = redis_servers.start(port, folder)
        try:
            env = {"REDIS_URL": f"redis://127.0.0.1:{port}/0", "APP_ENV": "development",
                   "WHATSAPP_APP_SECRET": "idle", "WHATSAPP_VERIFY_TOKEN": "idle", "WHATSAPP_ACCESS_TOKEN": "idle",
                   "WHATSAPP_PHONE_NUMBER_ID": "1", "DATA_DIR": str(folder),
                   "DIRECTORY_FILE": str(stack.directory(100, folder / "directory.yaml"))}
            rows = [
                ("gunicorn, bare Flask endpoint (baseline)",
                 idle(stack.web_command(stack.free_port(), "bench.ingest_apps:bare()"), env, args.seconds)),
                ("tgwa demo (embedded, worker on a thread)",
                 idle([str(stack.BIN / "tgwa"), "demo", "--port", str(stack.free_port())],
                      {"DATA_DIR": str(folder / "demo")}, args.seconds)),
                ("Procfile web (2 workers), Redis", idle(stack.web_command(stack.free_port()), env, args.seconds)),
                ("one tgwa worker, Redis", idle([str(stack.BIN / "tgwa"), "worker"], env, args.seconds)),
            ]
        finally:
            redis_process.kill()
    base = rows[0][1] or 1e-9
    print(f"Idle CPU, {args.seconds:.0f} s each after {SETTLE_SECONDS} s to settle, share of one core:\n")
    print("| process | idle CPU | × baseline |\n|---|---|---|")
    for name, share in rows:
        print(f"| {name} | {share * 100:.1f}% | {share / base:.1f}× |")


if __name__ == "__main__":
    main()
