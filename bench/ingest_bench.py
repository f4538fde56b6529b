"""Webhook ingest, side by side in one run: signed, unique text-message webhooks from wrk against
tgwa's `web` process of the Procfile (real Redis: every message stored and deduplicated), a bare
Flask endpoint, one that checks the signature and JSON only, pywa's Flask integration and a bare
WSGI function, each served by the Procfile's `web` command (same gunicorn settings,
WEB_CONCURRENCY workers) with only the app swapped. It fails unless tgwa stored every message it
answered for.

    make bench-ingest   (or: .venv/bin/python -m bench.ingest_bench [--seconds S] [--connections C])

Needs wrk (Debian's package) and Redis (REDIS_URL, default redis://127.0.0.1:6379/13; flushed).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.signatures import sign  # noqa: E402
from app.keyspace import PREFIX  # noqa: E402
from bench import stack  # noqa: E402

SECRET = "ingest-app-secret"
THREADS = 2
BODIES_PER_SECOND = 12_000  # above any server's rate here, so no body is sent twice in a run
BARE, PYWA, TGWA = "bare Flask endpoint", "pywa 4.5.0 Flask integration", "tgwa web (stores and dedupes)"
SERVERS = {
    "bare WSGI endpoint, no framework": "bench.ingest_apps:bare_wsgi()",
    BARE: "bench.ingest_apps:bare()",
    "Flask endpoint checking signature and JSON, storing nothing": "bench.ingest_apps:checked()",
    PYWA: "bench.ingest_apps:pywa_app()",
    TGWA: "app:create_app()",
}
LUA = """
-- Each wrk thread takes its own share of the bodies (every THREADS-th line), so no body is sent
-- twice until a thread has sent its whole share.
local threads = 0
setup = function(thread)
  thread:set("share", threads)
  threads = threads + 1
end
local bodies, signatures, n = {}, {}, 0
init = function(args)
  local file = io.open(os.getenv("TGWA_BODIES"), "r")
  local line_number = 0
  for line in file:lines() do
    if line_number % THREADS == share then
      local tab = line:find("\\t")
      n = n + 1
      signatures[n] = line:sub(1, tab - 1)
      bodies[n] = line:sub(tab + 1)
    end
    line_number = line_number + 1
  end
  file:close()
end
local i = 0
request = function()
  i = i % n + 1
  return wrk.format("POST", "/webhooks/whatsapp",
                    {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = signatures[i]}, bodies[i])
end
"""


def bodies(path: Path, count: int) -> None:
    """`count` unique, signed text-message webhooks from 5,000 contacts, shaped as pywa's own fixture
    (so no server rejects them), one a line: signature TAB body."""
    salt = int(time.time())
    with path.open("w") as out:
        for n in range(count):
            message = {"from": f"4477009{n % 5000:05d}", "id": f"wamid.ingest.{salt}.{n}", "timestamp": str(salt),
                       "type": "text", "text": {"body": f"can do 3/12, PO {4400000 + n}"}}
            raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
                              "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1"},
                                        "contacts": [{"profile": {"name": "Bench"}, "wa_id": message["from"], "user_id": f"US.{message['from']}"}],
                                        "messages": [message]}}]}]}, separators=(",", ":"))
            out.write(f"{sign(SECRET, raw.encode())}\t{raw}\n")


def measure(app: str, env: dict[str, str], seconds: int, connections: int, work: Path, name: str) -> tuple[float, int]:
    """(requests a second, requests answered) for `app` served by the Procfile's web command."""
    script = work / "ingest.lua"
    script.write_text(LUA.replace("THREADS", str(THREADS)))
    port = stack.free_port()
    server = subprocess.Popen(stack.web_command(port, app), cwd=ROOT, env={**os.environ, **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                requests.post(f"http://127.0.0.1:{port}/webhooks/whatsapp", data=b"{}", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        done = subprocess.run(["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
                               f"http://127.0.0.1:{port}/webhooks/whatsapp"], capture_output=True, text=True,
                              env={**os.environ, "TGWA_BODIES": str(work / "bodies.tsv")}, check=True)
    finally:
        server.terminate()
        server.wait(15)
    if re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout):
        sys.exit(f"{name}: some answers were not 200:\n{done.stdout}")
    if errors := re.search(r"Socket errors: .*", done.stdout):  # wrk gave up on some (timeout: 2 s)
        print(f"{name}: {errors.group(0)}", file=sys.stderr)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    return rate, int(re.search(r"(\d+) requests in", done.stdout).group(1))  # type: ignore[union-attr]


def stored(connection: redis.Redis) -> int:
    """Messages tgwa recorded: one dedupe key each."""
    return sum(1 for _ in connection.scan_iter(match=f"{PREFIX}:{{c:*}}:seen:*", count=10_000))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk: apt-get install wrk")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    connection = redis.Redis.from_url(redis_url)
    work = Path(tempfile.mkdtemp(prefix="tgwa-ingest-"))
    # More bodies than the fastest server answers in a run: no body reaches tgwa twice in one.
    bodies(work / "bodies.tsv", args.seconds * BODIES_PER_SECOND)
    env = {"REDIS_URL": redis_url, "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_VERIFY_TOKEN": "bench",
           "WHATSAPP_ACCESS_TOKEN": "bench", "WHATSAPP_PHONE_NUMBER_ID": "1", "TRADING_GRID_EVENTS_SECRET": "bench",
           "DIRECTORY_FILE": str(stack.directory(5000, work / "directory.yaml")), "DATA_DIR": str(work)}
    # The servers take turns, round after round, so that a slow spell of a shared virtual machine
    # falls on each of them; each server's figure is its median round.
    rates: dict[str, list[float]] = {name: [] for name in SERVERS}
    for _ in range(args.rounds):
        for name, app in SERVERS.items():
            connection.flushdb()  # tgwa starts empty: every body is a new message again
            rate, answered = measure(app, env, args.seconds, args.connections, work, name)
            rates[name].append(rate)
            if name == TGWA and not answered <= (kept := stored(connection)) <= answered + args.connections:
                # wrk leaves up to one request a connection unread when it stops
                sys.exit(f"tgwa answered {answered:,} unique messages but stored {kept:,}")
    median = {name: statistics.median(runs) for name, runs in rates.items()}
    bare, pywa = median[BARE], median[PYWA]
    print(f"Webhook ingest, wrk -t{THREADS} -c{args.connections} -d{args.seconds}s, median of {args.rounds} rounds, "
          f"the Procfile's web command ({' '.join(stack.web_command(8000)[1:])}) "
          f"(WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}), {os.cpu_count()}-core machine:\n")
    print("| server | requests/s | each round | vs bare Flask | vs pywa |")
    print("|---|---|---|---|---|")
    for name, rate in median.items():
        print(f"| {name} | {rate:.0f} | {' '.join(f'{r:.0f}' for r in rates[name])} | {rate / bare:.2f}× | {rate / pywa:.2f}× |")
    print("\n(In every round, Redis held each message tgwa answered for, each a new one.)")


if __name__ == "__main__":
    main()
