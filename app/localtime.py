"""A person's own clock: "tomorrow" and quiet hours are local. The zone is the one the directory
gives them, else their partner's country's, else their phone number's."""
from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
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


@functools.lru_cache(maxsize=None)
def _country_zones() -> dict[str, str]:
    """Each country's first zone in the IANA table (tzdata's zone.tab): its main clock."""
    table = importlib.resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    zones: dict[str, str] = {}
    for line in table.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and not line.startswith("#"):
            zones.setdefault(parts[0], parts[2])
    return zones


def zone_of(wa_id: str, timezone: str | None = None, country: str | None = None) -> zoneinfo.ZoneInfo:
    """A person's zone: `timezone` (the directory's), else `country`'s, else their number's."""
    for name in (timezone, _country_zones().get((country or "").upper())):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zone(wa_id)


def local_date(wa_id: str, timestamp: float) -> dt.date:
    return dt.datetime.fromtimestamp(timestamp, zone(wa_id)).date()


def next_waking_moment(wa_id: str, at: float, where: zoneinfo.ZoneInfo | None = None,
                       quiet: tuple[int, int] = (QUIET_FROM, QUIET_UNTIL)) -> float:
    """`at`, or the end of the person's quiet hours (08:00 local time) after it when `at` falls
    in them (from 20:00, or `quiet`: from and until, in whole hours)."""
    start, end = quiet
    local = dt.datetime.fromtimestamp(at, where or zone(wa_id))
    awake = end <= local.hour < start if end < start else not (start <= local.hour < end)
    if awake:
        return at
    morning = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if morning.timestamp() <= at:
        morning += dt.timedelta(days=1)
    return morning.timestamp()
