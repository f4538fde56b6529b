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

# The cell rate algorithm, in Redis's own clock (the one clock every worker shares): reserves the
# first moment that keeps `interval` between moments on average, with bursts of up to
# tolerance/interval + 1. Times in microseconds. A key lives a second past its moment: once that
# is past, no key and an old one mean the same, so a recipient's pace costs no memory for long.
GCRA = """
local function reserve(key, interval, tolerance)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = tonumber(redis.call('GET', key) or '0')
  local slot = math.max(now, tat - tolerance)
  local next_tat = math.max(tat, slot) + interval
  redis.call('SET', key, string.format('%d', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 1000)
  return {string.format('%d', slot), string.format('%d', now)}
end
"""

# Returns {reserved moment, now}.
RESERVE = GCRA + "return reserve(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))"

# Like `reserve`, but takes the moment only when it is now: a sender over its rate is not given
# a place in line, it is told how long until it has one. Returns microseconds to wait (0: go).
ALLOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat - tolerance > now then return tat - tolerance - now end
local next_tat = math.max(tat, now) + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 1000)
return 0
"""
SENDER_INTERVAL_SECONDS = 1.0  # a person writes one message a second at most, on average...
SENDER_BURST = 30              # ...after a burst of this many (a pasted list, a forwarded thread)


def sender_wait(rt: Runtime, contact: str) -> float:
    """Seconds before the contact's next message may be handled (0: now)."""
    interval = int(SENDER_INTERVAL_SECONDS * 1e6)
    wait = store.call(rt.redis, ALLOW, [store.sender_pace_key(contact)], [interval, interval * (SENDER_BURST - 1)])
    return int(wait) / 1e6


def _reserve(rt: Runtime, key: str, interval: int, tolerance: int) -> tuple[int, int]:
    slot, now = store.call(rt.redis, RESERVE, [key], [interval, tolerance])
    return int(slot), int(now)


def global_slot(rt: Runtime) -> tuple[int, int]:
    """The deployment's next free moment (µs), and now."""
    return _reserve(rt, store.GLOBAL_PACE, int(1e6 / (rt.settings.whatsapp_max_mps * SAFETY)), 0)


def wait_for_slot(rt: Runtime) -> None:
    slot, now = global_slot(rt)
    if slot > now:
        time.sleep((slot - now) / 1e6)



