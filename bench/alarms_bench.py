"""What the worker's "typing…" alarm costs on every question to Trading Grid: app.alarms beside
the baseline, threading.Timer (an OS thread started, and woken to end, for every alarm).

    make bench-alarms   (or: .venv/bin/python -m bench.alarms_bench [--alarms N])

Each round sets N alarms one after another, each due in TYPING_AFTER_SECONDS and called off after
a little work standing in for the question (as nearly every one is), and prints the process CPU
per alarm less the same work done bare. Both run in the same process, alternating, three rounds.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import alarms  # noqa: E402
from conversations.turn import TYPING_AFTER_SECONDS  # noqa: E402

ROUNDS = 3


def _question() -> None:
    total = 0
    for n in range(300):
        total += n


def _never() -> None:
    raise AssertionError("an alarm called off rang")


def bare(count: int) -> None:
    for _ in range(count):
        _question()


def with_timer(count: int) -> None:
    for _ in range(count):
        timer = threading.Timer(TYPING_AFTER_SECONDS, _never)
        timer.daemon = True
        timer.start()
        _question()
        timer.cancel()


def with_alarms(count: int) -> None:
    for _ in range(count):
        alarm = alarms.after(TYPING_AFTER_SECONDS, _never)
        _question()
        alarm.cancel()


def cpu_per_call(run: Callable[[int], None], count: int) -> float:
    """Process CPU (every thread) per call in µs, threads started by the round given time to end."""
    start = time.process_time()
    run(count)
    time.sleep(0.5)
    return (time.process_time() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alarms", type=int, default=20_000)
    args = parser.parse_args()
    cost: dict[str, list[float]] = {"bare": [], "timer": [], "alarms": []}
    for _ in range(ROUNDS):
        for name, run in (("bare", bare), ("timer", with_timer), ("alarms", with_alarms)):
            cost[name].append(cpu_per_call(run, args.alarms))
    floor = min(cost["bare"])
    timer = min(cost["timer"]) - floor
    ours = max(min(cost["alarms"]) - floor, 0.01)
    print(f"{'per alarm set and called off':<40}{'CPU µs':>10}{'vs Timer':>10}")
    print(f"{'threading.Timer (baseline)':<40}{timer:>10.1f}{1:>9.2f}×")
    print(f"{'app.alarms':<40}{ours:>10.1f}{ours / timer:>9.2f}×")


if __name__ == "__main__":
    main()
