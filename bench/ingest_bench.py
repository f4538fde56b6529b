"""Webhook ingest, side by side in one run: signed, unique text-message webhooks from wrk against
tgwa's `web` process of the Procfile (real Redis: every message stored and deduplicated), a bare
Flask endpoint, one that checks the signature and JSON only, pywa's Flask integration and a bare
WSGI function, each served by the Procfile's `web` command (same gunicorn settings,
WEB_CONCURRENCY workers) with only the app swapped; then signed, unique Trading Grid events
against tgwa (each checked against the schema, stored, deduplicated and given its job) and the
same bare endpoints. It fails unless tgwa stored every message and event it answered for.

    make bench-ingest   (or: .venv/bin/python -m bench.ingest_bench [--seconds S] [--connections C]
                         [--webhook whatsapp|events|both|statuses])

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
from rq import Queue

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.queues import EVENTS, OUTBOUND  # noqa: E402
from app.signatures import sign, tradinggrid_payload  # noqa: E402
from app.keyspace import PREFIX  # noqa: E402
from bench import stack  # noqa: E402

SECRET = "ingest-app-secret"
EVENTS_SECRET = "ingest-events-secret"
THREADS = 2
BODIES_PER_SECOND = 12_000  # above any server's rate here, so no body is sent twice in a run
BARE, PYWA, TGWA = "bare Flask endpoint", "pywa 4.5.0 Flask integration", "tgwa web (stores and dedupes)"
FLOOR = "bare WSGI endpoint, no framework"
SERVERS = {
    FLOOR: "bench.ingest_apps:bare_wsgi()",
    BARE: "bench.ingest_apps:bare()",
    "Flask endpoint checking signature and JSON, storing nothing": "bench.ingest_apps:checked()",
    PYWA: "bench.ingest_apps:pywa_app()",
    TGWA: "app:create_app()",
}
EVENTS_TGWA = "tgwa web (schema-checks, stores, dedupes, queues)"
EVENT_SERVERS = {FLOOR: SERVERS[FLOOR], BARE: SERVERS[BARE], EVENTS_TGWA: SERVERS[TGWA]}
STATUSES_TGWA = "tgwa web (records, queues to apply)"
STATUS_SERVERS = {FLOOR: SERVERS[FLOOR], BARE: SERVERS[BARE], STATUSES_TGWA: SERVERS[TGWA]}
WHATSAPP_PATH, EVENTS_PATH = "/webhooks/whatsapp", "/webhooks/tradinggrid"
LUA = """
-- Each wrk thread takes its own share of the bodies (every THREADS-th line), so no body is sent
-- twice until a thread has sent its whole share.
local threads = 0
setup = function(thread)
  thread:set("share", threads)
  threads = threads + 1
end
-- A line: signature TAB timestamp (empty for WhatsApp) TAB body.
local bodies, signatures, timestamps, n = {}, {}, {}, 0
init = function(args)
  local file = io.open(os.getenv("TGWA_BODIES"), "r")
  local line_number = 0
  for line in file:lines() do
    if line_number % THREADS == share then
      local first = line:find("\\t")
      local second = line:find("\\t", first + 1)
      n = n + 1
      signatures[n] = line:sub(1, first - 1)
      timestamps[n] = line:sub(first + 1, second - 1)
      bodies[n] = line:sub(second + 1)
    end
    line_number = line_number + 1
  end
  file:close()
end
local i = 0
request = function()
  i = i % n + 1
  local headers = {["Content-Type"] = "application/json"}
  if timestamps[i] == "" then
    headers["X-Hub-Signature-256"] = signatures[i]
  else
    headers["X-TG-Signature"] = signatures[i]
    headers["X-TG-Timestamp"] = timestamps[i]
  end
  return wrk.format("POST", "PATH", headers, bodies[i])
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
            out.write(f"{sign(SECRET, raw.encode())}\t\t{raw}\n")


def status_bodies(path: Path, count: int) -> None:
    """`count` signed status webhooks, as Meta sends one for every message sent, delivered and read:
    each a `delivered` for a unique message to one of 5,000 contacts, one a line: signature TAB TAB body."""
    salt = int(time.time())
    with path.open("w") as out:
        for n in range(count):
            status = {"id": f"wamid.status.{salt}.{n}", "status": "delivered", "timestamp": str(salt),
                      "recipient_id": f"4477009{n % 5000:05d}",
                      "pricing": {"billable": True, "pricing_model": "PMP", "category": "utility"}}
            raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
                              "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1"},
                                        "statuses": [status]}}]}]}, separators=(",", ":"))
            out.write(f"{sign(SECRET, raw.encode())}\t\t{raw}\n")


def event_bodies(path: Path, count: int) -> None:
    """`count` unique, signed exception events for 5,000 partners, stamped now (an event's
    signature holds for five minutes), one a line: signature TAB timestamp TAB body."""
    stamp, salt = str(int(time.time())), time.time_ns()
    with path.open("w") as out:
        for n in range(count):
            raw = json.dumps({"id": f"evt-ingest-{salt}-{n}", "type": "exception.logged",
                              "occurred_at": "2026-12-04T09:00:00Z", "case_id": f"CASE-{n}",
                              "partner_id": f"P{n % 5000:04d}", "issue_type": "shipment_delay",
                              "reference": f"PO-{4400000 + n}", "summary": "Truck broke down near Kassel",
                              "thread_url": f"https://tg.example.com/cases/CASE-{n}", "notify": "partner"},
                             separators=(",", ":")).encode()
            out.write(f"{sign(EVENTS_SECRET, tradinggrid_payload(stamp, raw))}\t{stamp}\t{raw.decode()}\n")


def measure(app: str, env: dict[str, str], seconds: int, connections: int, work: Path, name: str,
            path: str = WHATSAPP_PATH) -> tuple[float, int]:
    """(requests a second, requests answered) for `app` served by the Procfile's web command,
    wrk posting the bodies of work/bodies.tsv to `path`."""
    script = work / "ingest.lua"
    script.write_text(LUA.replace("THREADS", str(THREADS)).replace("PATH", path))
    port = stack.free_port()
    server = subprocess.Popen(stack.web_command(port, app), cwd=ROOT, env={**os.environ, **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                requests.post(f"http://127.0.0.1:{port}{path}", data=b"{}", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        done = subprocess.run(["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
                               f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
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


def stored(connection: redis.Redis, pattern: str = f"{PREFIX}:{{c:*}}:seen:*") -> int:
    """Messages tgwa recorded (one dedupe key each), or what else `pattern` matches."""
    return sum(1 for _ in connection.scan_iter(match=pattern, count=10_000))


def queued_events(connection: redis.Redis) -> int:
    """Events with a job queued for them: each job's ids, counted from its arguments."""
    queue = Queue(EVENTS, connection=connection)
    return sum(len(args[0]) if isinstance(args[0], list) else 1
               for args in (job.args for job in queue.get_jobs() if job is not None))


def queued_statuses(connection: redis.Redis) -> int:
    """Statuses with a job queued to apply them: each job's statuses, counted from its arguments."""
    return sum(len(job.args[0]) for job in Queue(OUTBOUND, connection=connection).get_jobs() if job is not None)


def table(title: str, rates: dict[str, list[float]], baselines: tuple[str, ...]) -> None:
    """Each server's median round; each ratio is the median of the rounds' own ratios (the two
    servers measured minutes apart, not across the run), which a machine speeding up or slowing
    down during the run moves far less than a ratio of medians."""
    median = {name: statistics.median(runs) for name, runs in rates.items()}
    print(title + "\n")
    print("| server | requests/s | each round | " + " | ".join(f"vs {b}" for b in baselines) + " |")
    print("|---|---|---|" + "---|" * len(baselines))
    for name, rate in median.items():
        ratios = [statistics.median(r / b for r, b in zip(rates[name], rates[base])) for base in baselines]
        print(f"| {name} | {rate:.0f} | {' '.join(f'{r:.0f}' for r in rates[name])} | "
              + " | ".join(f"{ratio:.2f}×" for ratio in ratios) + " |")
    print()


def _in_turn(servers: dict[str, str], turn: int) -> list[tuple[str, str]]:
    """The servers in order on even rounds, backwards on odd ones."""
    return list(servers.items())[::-1 if turn % 2 else 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--webhook", choices=["whatsapp", "events", "both", "statuses"], default="both",
                        help="both: messages and events; statuses: Meta's delivery statuses alone")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk: apt-get install wrk")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    connection = redis.Redis.from_url(redis_url)
    work = Path(tempfile.mkdtemp(prefix="tgwa-ingest-"))
    env = {"REDIS_URL": redis_url, "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_VERIFY_TOKEN": "bench",
           "WHATSAPP_ACCESS_TOKEN": "bench", "WHATSAPP_PHONE_NUMBER_ID": "1", "TRADING_GRID_EVENTS_SECRET": EVENTS_SECRET,
           "DIRECTORY_FILE": str(stack.directory(5000, work / "directory.yaml")), "DATA_DIR": str(work)}
    heading = (f"wrk -t{THREADS} -c{args.connections} -d{args.seconds}s, {args.rounds} rounds in turn, "
               f"the Procfile's web command ({' '.join(stack.web_command(8000)[1:])}) "
               f"(WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}), {os.cpu_count()}-core machine")
    # The servers take turns, round after round, so that a slow spell of a shared virtual machine
    # falls on each of them, in the opposite order every other round, so that a machine speeding
    # up or slowing down favours none; each server's figure is its median round.
    if args.webhook in ("whatsapp", "both"):
        # More bodies than the fastest server answers in a run: no body reaches tgwa twice in one.
        bodies(work / "bodies.tsv", args.seconds * BODIES_PER_SECOND)
        rates: dict[str, list[float]] = {name: [] for name in SERVERS}
        for turn in range(args.rounds):
            for name, app in _in_turn(SERVERS, turn):
                connection.flushdb()  # tgwa starts empty: every body is a new message again
                rate, answered = measure(app, env, args.seconds, args.connections, work, name)
                rates[name].append(rate)
                if name == TGWA and not answered <= (kept := stored(connection)) <= answered + args.connections:
                    # wrk leaves up to one request a connection unread when it stops
                    sys.exit(f"tgwa answered {answered:,} unique messages but stored {kept:,}")
        table(f"WhatsApp webhooks, {heading}:", rates, (BARE, PYWA))
        print("(In every round, Redis held each message tgwa answered for, each a new one.)\n")
    if args.webhook in ("events", "both"):
        rates = {name: [] for name in EVENT_SERVERS}
        for turn in range(args.rounds):
            for name, app in _in_turn(EVENT_SERVERS, turn):
                connection.flushdb()
                event_bodies(work / "bodies.tsv", args.seconds * BODIES_PER_SECOND)  # stamped as the run starts
                rate, answered = measure(app, env, args.seconds, args.connections, work, name, EVENTS_PATH)
                rates[name].append(rate)
                if name == EVENTS_TGWA:
                    kept, queued = stored(connection, f"{PREFIX}:event:*"), queued_events(connection)
                    if not answered <= kept <= answered + args.connections or queued != kept:
                        sys.exit(f"tgwa answered {answered:,} unique events, stored {kept:,}, queued {queued:,}")
        table(f"Trading Grid events, {heading}:", rates, (BARE,))
        print("(In every round, Redis held each event tgwa answered for, and a job for each.)")
    if args.webhook == "statuses":
        status_bodies(work / "bodies.tsv", args.seconds * BODIES_PER_SECOND)
        rates = {name: [] for name in STATUS_SERVERS}
        for turn in range(args.rounds):
            for name, app in _in_turn(STATUS_SERVERS, turn):
                connection.flushdb()
                rate, answered = measure(app, env, args.seconds, args.connections, work, name)
                rates[name].append(rate)
                if name == STATUSES_TGWA and not answered <= (queued := queued_statuses(connection)) <= answered + args.connections:
                    sys.exit(f"tgwa answered {answered:,} status webhooks but queued {queued:,} statuses")
        table(f"WhatsApp status webhooks, {heading}:", rates, (BARE,))
        print("(In every round, each status tgwa answered for was in a job to apply it.)")


if __name__ == "__main__":
    main()
