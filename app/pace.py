"""Sending at WhatsApp's pace, across every worker of the deployment: a generic cell rate
algorithm in Redis reserves each message a moment to leave.

- Deployment-wide: at most WHATSAPP_MAX_MPS messages a second, evenly spaced, so no one-second
  window ever holds more.
- Per recipient (Meta's pair limit, error 131056): one message every 6 seconds on average, with
  bursts of up to 45, as Meta allows.
"""
from __future__ import annotations

import time

from app import store
from app.runtime import Runtime

PAIR_INTERVAL_SECONDS = 6.0
PAIR_BURST = 45
SAFETY = 0.98  # leave a little room for the jitter between a reserved moment and the send

# KEYS[1]: the theoretical arrival time; ARGV: interval, tolerance, not-before (all microseconds).
# Returns {reserved moment, Redis's now}: Redis's clock is the one clock every worker shares.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local earliest = math.max(now, tonumber(ARGV[3]))
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(earliest, tat - tolerance)
local next_tat = math.max(tat, slot) + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 60000)
return {string.format('%d', slot), string.format('%d', now)}
"""


def _reserve(rt: Runtime, key: str, interval: int, tolerance: int, not_before: int) -> tuple[int, int]:
    slot, now = rt.redis.register_script(RESERVE)(keys=[key], args=[interval, tolerance, not_before])
    return int(slot), int(now)


def pair_slot(rt: Runtime, recipient: str) -> tuple[int, int]:
    """The moment (µs) Meta's pair limit lets the next message to `recipient` leave, and now."""
    interval = int(PAIR_INTERVAL_SECONDS * 1e6)
    return _reserve(rt, store.pair_pace_key(recipient), interval, interval * (PAIR_BURST - 1), 0)


def global_slot(rt: Runtime, not_before: int = 0) -> tuple[int, int]:
    """The deployment's next free moment (µs) at or after `not_before`, and now."""
    return _reserve(rt, store.GLOBAL_PACE, int(1e6 / (rt.settings.whatsapp_max_mps * SAFETY)), 0, not_before)


def reserve(rt: Runtime, recipient: str) -> float:
    """Reserves the next moment a message to `recipient` may leave; returns seconds to wait."""
    earliest, _ = pair_slot(rt, recipient)
    slot, now = global_slot(rt, earliest)
    return max(slot - now, 0) / 1e6


def wait_turn(rt: Runtime, recipient: str) -> None:
    delay = reserve(rt, recipient)
    if delay > 0:
        time.sleep(delay)
