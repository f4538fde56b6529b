"""Load: many contacts writing at once, duplicates included, through the Procfile's processes
(2 web, 2 workers) and one Redis, answered at a loopback Graph server.

    make bench-load   (or: .venv/bin/python -m bench.load_bench [--messages N] [--contacts C])

Senders post as fast as the stack takes them (each contact's messages in order, every tenth
delivered twice, as Meta does), over kept-alive connections with no HTTP library around them
(app.httpsession.KeptAlive): the senders share the two cores with what they measure, and
requests cost them a third of the machine. Prints messages per second, p50/p99 of the time from a
message's webhook POST to its reply arriving at Graph, and the worker processes' CPU per
message; checks that every message was answered exactly once and every contact's answers came
in the order it wrote. Beside tgwa, in the same run, the baseline of bench.naive_app: pywa and
one RQ job a message doing a directory lookup and the same Graph send. `run` is what the test
suite calls, in a short form. Needs Redis (REDIS_URL, default redis://127.0.0.1:6379/13; flushed).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.httpsession import KeptAlive  # noqa: E402
from app.signatures import sign  # noqa: E402
from bench import loopback_graph, stack  # noqa: E402

SECRET = "load-app-secret"
TEXTS = ("help", "status CASE-1001", "my cases", "hello")
SENDERS = 16


@dataclasses.dataclass
class Result:
    messages: int
    unique: int
    seconds: float
    latencies: list[float]
    answered_once: bool
    in_order: bool
    problems: list[str]
    worker_cpu: float = 0.0  # seconds, across the worker processes, while the messages were answered
    web_cpu: float = 0.0

    @property
    def worker_ms_per_message(self) -> float:
        return self.worker_cpu / self.unique * 1000

    @property
    def ok(self) -> bool:
        return self.answered_once and self.in_order

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


NAIVE_APP = "bench.naive_app:create_app()"


def run(messages: int, contacts: int, redis_url: str, web_workers: int = 2, workers: int = 2,
        duplicate_every: int = 10, rate: float | None = None, naive: str | None = None) -> Result:
    """`rate`: messages a second offered, evenly spaced (None: as fast as the stack takes them).
    `naive`: the baseline (bench.naive_app) instead of tgwa, on the same machine, Redis and Graph,
    its jobs run by RQ's forking worker ("fork") or its SimpleWorker ("simple")."""
    redis.Redis.from_url(redis_url).flushdb()
    work = Path(tempfile.mkdtemp(prefix="tgwa-load-"))
    stack.directory(contacts, work / "directory.yaml")
    per_contact = messages // contacts
    unique = per_contact * contacts
    graph_port = stack.free_port()
    arrivals_path = work / "replies.json"
    graph = loopback_graph.start(graph_port, str(arrivals_path), unique, record_replies=True)
    env = {"REDIS_URL": redis_url, "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_VERIFY_TOKEN": "load",
           "WHATSAPP_ACCESS_TOKEN": "load", "WHATSAPP_PHONE_NUMBER_ID": "1",
           "WHATSAPP_API_BASE": f"http://127.0.0.1:{graph_port}/v23.0", "WHATSAPP_MAX_MPS": "100000",
           "QUIET_HOURS": "off", "TRADING_GRID_EVENTS_SECRET": "load", "DIRECTORY_FILE": str(work / "directory.yaml"), "DATA_DIR": str(work)}
    posted: dict[str, float] = {}
    order: dict[str, list[str]] = defaultdict(list)
    posts = 0
    lock = threading.Lock()
    app, worker = ((NAIVE_APP, [sys.executable, "-m", "bench.naive_app", *(["--simple"] if naive == "simple" else [])])
                   if naive else ("app:create_app()", None))
    with stack.running(env, web_workers, workers, app=app, worker=worker) as running:
        base = running.base
        cpu_before = running.worker_cpu(), running.web_cpu()
        start = time.time()
        base_ts = int(start) - 10 * per_contact

        def sender(first: int) -> None:
            nonlocal posts
            webhook = KeptAlive(f"{base}/webhooks/whatsapp", 5, 30)  # a tenth of requests' CPU: it shares the cores
            mine = range(first, contacts, SENDERS)
            sent = 0
            for i in range(per_contact):
                for n in mine:
                    if rate:  # this sender's share of the offered rate, on a fixed timetable
                        delay = start + sent * SENDERS / rate - time.time()
                        if delay > 0:
                            time.sleep(delay)
                    sent += 1
                    wa_id, message_id = stack.phone(n), f"wamid.load.{n}.{i}"
                    message = {"from": wa_id, "id": message_id, "timestamp": str(base_ts + i), "type": "text",
                               "text": {"body": TEXTS[(n + i) % len(TEXTS)]}}
                    raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
                        {"field": "messages", "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
                            "contacts": [{"profile": {"name": f"Contact {n}"}, "wa_id": wa_id, "user_id": f"US.{n:020d}"}],
                            "messages": [message]}}]}]}).encode()
                    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, raw)}
                    with lock:
                        posted[message_id] = time.time()
                        order[wa_id].append(message_id)
                    for _ in range(2 if (n + i) % duplicate_every == 0 else 1):
                        status, answer = webhook.post(raw, headers)
                        assert status == 200, answer
                        with lock:
                            posts += 1

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(SENDERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        graph.join(300)
        worker_cpu, web_cpu = running.worker_cpu() - cpu_before[0], running.web_cpu() - cpu_before[1]
    replies = json.loads(arrivals_path.read_text())
    seconds = max(r[0] for r in replies) - start if replies else float("nan")
    answers: dict[str, list[str]] = defaultdict(list)
    latencies, counted = [], defaultdict(int)
    for when, to, quoted in sorted(replies):
        if quoted:
            counted[quoted] += 1
            answers[to].append(quoted)
            latencies.append(when - posted[quoted])
    problems = [f"{m} answered {counted.get(m, 0)} times" for m in posted if counted.get(m, 0) != 1][:10]
    in_order = all(answers[c] == order[c] for c in order)
    if not in_order:
        problems += [f"{c}: answers out of order" for c in order if answers[c] != order[c]][:10]
    answered_once = all(counted.get(m, 0) == 1 for m in posted)
    return Result(posts, unique, seconds, latencies, answered_once, in_order, problems, worker_cpu, web_cpu)


TARGET_P99 = 0.250  # seconds: the reply target at a fixed offered rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=200, help="the fixed offered rate of the second run")
    parser.add_argument("--steps", default="300,400,500,600,800,1000,1200",
                        help="offered rates tried, 10 s each, for the highest one answered within the p99 target")
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    fastest = run(args.messages, args.contacts, url)
    forking = run(args.messages // 20, args.contacts // 2, url, naive="fork")  # a fork a job: slow
    simple = run(args.messages // 4, args.contacts, url, naive="simple")
    runs = {"as fast as it takes them": (fastest, args.contacts),
            "baseline: pywa + one RQ job a message, `rq worker` (a fork a job)": (forking, args.contacts // 2),
            "baseline: the same, RQ's SimpleWorker (no fork)": (simple, args.contacts),
            f"offered at {args.rate:.0f}/s": (run(args.messages // 4, args.contacts // 4, url, rate=args.rate),
                                             args.contacts // 4)}
    sustained = None
    for step in (float(r) for r in args.steps.split(",")):
        result = run(int(step * 10), args.contacts // 4, url, rate=step)
        runs[f"offered at {step:.0f}/s"] = (result, args.contacts // 4)
        if not (result.ok and result.percentile(0.99) < TARGET_P99):
            break
        sustained = step
    print("Load: messages from many contacts (every tenth delivered twice), 2 web + 2 worker processes, one Redis, "
          f"{os.cpu_count()}-core machine; replies at a loopback Graph server:\n")
    print("| run | messages | contacts | answered per second | webhook to reply p50 | p99 | worker CPU per message "
          "| each answered once, in order |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (result, contacts) in runs.items():
        ok = "yes" if result.ok else "NO: " + "; ".join(result.problems[:3])
        print(f"| {name} | {result.unique:,} | {contacts:,} | {result.rate:.0f} | {result.percentile(0.5) * 1000:.0f} ms "
              f"| {result.percentile(0.99) * 1000:.0f} ms | {result.worker_ms_per_message:.2f} ms | {ok} |")
    for name, baseline in (("`rq worker`", forking), ("SimpleWorker", simple)):
        print(f"{'' if baseline is simple else chr(10)}Against the baseline with {name}: {fastest.rate / baseline.rate:.1f}× "
              f"the messages answered a second ({fastest.rate:.0f} against {baseline.rate:.0f}), "
              f"{baseline.worker_ms_per_message / fastest.worker_ms_per_message:.1f}× less worker CPU per message "
              f"({fastest.worker_ms_per_message:.2f} ms against {baseline.worker_ms_per_message:.2f} ms).")
    print(f"Highest offered rate tried with every message answered once, in order, and p99 under "
          f"{TARGET_P99 * 1000:.0f} ms: {f'{sustained:.0f}/s' if sustained else 'none of the steps'}.")


if __name__ == "__main__":
    main()
