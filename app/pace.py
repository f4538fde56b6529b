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

# KEYS[1]: the theoretical arrival time (microseconds); ARGV: interval, tolerance, not-before offset.
# Returns how many microseconds from now the reserved moment is.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local earliest = now + tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(earliest, tat - tolerance)
local next_tat = math.max(tat, slot) + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 60000)
return slot - now
"""


def reserve(rt: Runtime, recipient: str) -> float:
    """Reserves the next moment a message to `recipient` may leave; returns seconds to wait."""
    script = rt.redis.register_script(RESERVE)
    pair_wait = int(script(keys=[store.pair_pace_key(recipient)],
                           args=[int(PAIR_INTERVAL_SECONDS * 1e6), int(PAIR_INTERVAL_SECONDS * (PAIR_BURST - 1) * 1e6), 0]))
    interval = int(1e6 / (rt.settings.whatsapp_max_mps * SAFETY))
    wait = int(script(keys=[store.GLOBAL_PACE], args=[interval, 0, max(pair_wait, 0)]))
    return max(wait, 0) / 1e6


def wait_turn(rt: Runtime, recipient: str) -> None:
    delay = reserve(rt, recipient)
    if delay > 0:
        time.sleep(delay)
