"""What Meta last said of each approved template, from its `message_template_status_update` and
`template_category_update` webhooks, kept in Redis for every process: a paused, disabled or
rejected template is not sent (Meta would fail it), and a template Meta moved to another
category (a utility one made marketing is billed and capped as marketing) is shown as such."""
from __future__ import annotations

import json
import time
from typing import Any

import redis

from app import keyspace
from app.whatsapp.inbound import TemplateUpdate

UNUSABLE = frozenset({"PAUSED", "DISABLED", "REJECTED", "PENDING_DELETION", "DELETED", "ARCHIVED"})
CACHE_SECONDS = 2.0  # a broadcast reads this per recipient: once a moment per process is enough
_cache: dict[int, tuple[float, dict[str, dict[str, Any]]]] = {}


def field(name: str, language: str) -> str:
    return f"{name}|{language}"


def record(connection: redis.Redis, updates: list[TemplateUpdate]) -> None:
    """Keeps what each update says (a category update leaves the status as it was, and the reverse)."""
    fields = [field(u.name, u.language) for u in updates]
    known = dict(zip(fields, connection.hmget(keyspace.TEMPLATE_STATUS, fields)))
    merged: dict[str, str] = {}
    for update, name in zip(updates, fields):
        before = json.loads(merged.get(name) or known[name] or "{}")
        after = {**before, "at": time.time()}
        if update.status:
            after.update(status=update.status, reason=update.reason)
        if update.category:
            if before.get("category") and before["category"] != update.category:
                after["previous_category"] = before["category"]
            after["category"] = update.category
        merged[name] = json.dumps(after)
    connection.hset(keyspace.TEMPLATE_STATUS, mapping=merged)
    _cache.pop(id(connection), None)


def known(connection: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every template Meta has said something of, by `name|language`."""
    cached = _cache.get(id(connection))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    found = {k.decode(): json.loads(v) for k, v in connection.hgetall(keyspace.TEMPLATE_STATUS).items()}
    _cache[id(connection)] = (time.monotonic() + CACHE_SECONDS, found)
    return found


def unusable(connection: redis.Redis, name: str, language: str) -> str | None:
    """Why the template may not be sent now (its status, and Meta's reason), or None."""
    said = known(connection).get(field(name, language), {})
    if said.get("status") not in UNUSABLE:
        return None
    return f"template {name} ({language}) is {said['status']}" + (f": {said['reason']}" if said.get("reason") else "")
