"""Sending at WhatsApp's pace, across every worker of the deployment: a generic cell rate
algorithm in Redis reserves each message a moment to leave.

- Deployment-wide: at most WHATSAPP_MAX_MPS messages a second, evenly spaced, so no one-second
  window ever holds more.
- Per recipient (Meta's pair limit, error 131056): one message every 6 seconds on average, with
  bursts of up to 45, as Meta allows.
"""
from __future__ import annotations

import time
from typing import Any

from app import keyspace, redisline, scripts
from app.runtime import Runtime

PAIR_INTERVAL_SECONDS = 6.0
PAIR_BURST = 45
# As the cell rate algorithm takes them (scripts.GCRA): µs between moments, and the burst's allowance.
PAIR_INTERVAL_US = int(PAIR_INTERVAL_SECONDS * 1e6)
PAIR_TOLERANCE_US = PAIR_INTERVAL_US * (PAIR_BURST - 1)
SAFETY = 0.99  # leave a little room for the jitter between a reserved moment and the send


SENDER_INTERVAL_SECONDS = 1.0  # a person writes one message a second at most, on average...
SENDER_BURST = 30              # ...after a burst of this many (a pasted list, a forwarded thread)
# (checked as the contact's next message is taken: app.inbox.take)


def spend(rt: Runtime, recipient: str) -> None:
    """Meta says this recipient has had too many messages of late (131056): their next message,
    whichever it is, leaves a full pair interval from now, not within the burst Meta just refused."""
    scripts.call(rt.redis, scripts.SPEND, [keyspace.pair_pace_key(recipient)], [PAIR_INTERVAL_US, PAIR_TOLERANCE_US])


def slot_interval(rt: Runtime) -> int:
    """µs between two moments of the deployment's rate."""
    return int(1e6 / (rt.settings.whatsapp_max_mps * SAFETY))


def queue_global_slot(pipe: Any, rt: Runtime) -> None:
    """Queues on `pipe` the reserving of the deployment's next free moment; its answer is
    [moment, now, what the key was set to] (µs), read by `until`."""
    scripts.evalsha(pipe, scripts.RESERVE, [keyspace.GLOBAL_PACE], [slot_interval(rt), 0])


def until(answer: list[Any]) -> float:
    """Seconds until the moment a RESERVE answered (0: now)."""
    slot, now = int(answer[0]), int(answer[1])
    return max(slot - now, 0) / 1e6


def global_slot(rt: Runtime) -> tuple[int, int]:
    """Reserves the deployment's next free moment: it, and now (µs)."""
    answer = scripts.run(rt.redis, lambda pipe: queue_global_slot(pipe, rt))[0]
    return int(answer[0]), int(answer[1])


def reserve(rt: Runtime, recipient: str) -> tuple[float, float]:
    """Reserves a send's moments in one round trip: the seconds until the recipient's pair limit
    lets it leave, and until the deployment's rate does."""
    def build(pipe: Any) -> None:
        scripts.evalsha(pipe, scripts.RESERVE, [keyspace.pair_pace_key(recipient)], [PAIR_INTERVAL_US, PAIR_TOLERANCE_US])
        queue_global_slot(pipe, rt)

    pair, slot = scripts.run(rt.redis, build, redisline.for_thread(rt.redis))
    return until(pair), until(slot)


def wait_for_slot(rt: Runtime) -> None:
    wait = until(list(global_slot(rt)))
    if wait > 0:
        time.sleep(wait)
