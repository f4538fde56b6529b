"""Sending at WhatsApp's pace, across every worker of the deployment: a generic cell rate
algorithm in Redis reserves each message a moment to leave.

- Deployment-wide: at most WHATSAPP_MAX_MPS messages a second, evenly spaced, so no one-second
  window ever holds more.
- Per recipient (Meta's pair limit, error 131056): one message every 6 seconds on average, with
  bursts of up to 45, as Meta allows.
"""
from __future__ import annotations

import time

from app import keyspace, scripts
from app.runtime import Runtime

PAIR_INTERVAL_SECONDS = 6.0
PAIR_BURST = 45
SAFETY = 0.98  # leave a little room for the jitter between a reserved moment and the send


SENDER_INTERVAL_SECONDS = 1.0  # a person writes one message a second at most, on average...
SENDER_BURST = 30              # ...after a burst of this many (a pasted list, a forwarded thread)


def sender_wait(rt: Runtime, contact: str) -> float:
    """Seconds before the contact's next message may be handled (0: now)."""
    interval = int(SENDER_INTERVAL_SECONDS * 1e6)
    wait = scripts.call(rt.redis, scripts.ALLOW, [keyspace.sender_pace_key(contact)], [interval, interval * (SENDER_BURST - 1)])
    return int(wait) / 1e6


def spend(rt: Runtime, recipient: str) -> None:
    """Meta says this recipient has had too many messages of late (131056): their next message,
    whichever it is, leaves a full pair interval from now, not within the burst Meta just refused."""
    interval = int(PAIR_INTERVAL_SECONDS * 1e6)
    scripts.call(rt.redis, scripts.SPEND, [keyspace.pair_pace_key(recipient)], [interval, interval * (PAIR_BURST - 1)])


def _reserve(rt: Runtime, key: str, interval: int, tolerance: int) -> tuple[int, int]:
    slot, now = scripts.call(rt.redis, scripts.RESERVE, [key], [interval, tolerance])
    return int(slot), int(now)


def global_slot(rt: Runtime) -> tuple[int, int]:
    """The deployment's next free moment (µs), and now."""
    return _reserve(rt, keyspace.GLOBAL_PACE, int(1e6 / (rt.settings.whatsapp_max_mps * SAFETY)), 0)


def wait_for_slot(rt: Runtime) -> None:
    slot, now = global_slot(rt)
    if slot > now:
        time.sleep((slot - now) / 1e6)


