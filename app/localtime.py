"""A person's own clock, from their phone number: "tomorrow" and quiet hours are local."""
from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

import phonenumbers
from phonenumbers import timezone as phone_timezones

QUIET_FROM, QUIET_UNTIL = 20, 8  # no business-initiated message from 20:00 to 08:00 local time


@functools.lru_cache(maxsize=4096)
def zone(wa_id: str) -> zoneinfo.ZoneInfo:
    try:
        zones = phone_timezones.time_zones_for_number(phonenumbers.parse(f"+{wa_id}"))
        return zoneinfo.ZoneInfo(zones[0])
    except (phonenumbers.NumberParseException, zoneinfo.ZoneInfoNotFoundError, IndexError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@functools.lru_cache(maxsize=4096)
def country(wa_id: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(f"+{wa_id}"))
    except phonenumbers.NumberParseException:
        return None


def local_date(wa_id: str, timestamp: float) -> dt.date:
    return dt.datetime.fromtimestamp(timestamp, zone(wa_id)).date()


def next_waking_moment(wa_id: str, at: float) -> float:
    """`at`, or 08:00 local time after it when `at` falls in the person's quiet hours."""
    local = dt.datetime.fromtimestamp(at, zone(wa_id))
    if QUIET_UNTIL <= local.hour < QUIET_FROM:
        return at
    morning = local.replace(hour=QUIET_UNTIL, minute=0, second=0, microsecond=0)
    if local.hour >= QUIET_FROM:
        morning += dt.timedelta(days=1)
    return morning.timestamp()
