"""Failed transactions from Lens become Trading Grid cases, and alerts to the partner (contract
section 8), with `LENS_POLL_SECONDS` > 0.

- One poller at a time across every worker: a lease in Redis (a redis-py lock, extended page by
  page). Whichever keeper's turn it is queues a poll when `tgwa:lens:next` has run out.
- From the cursor (the newest arrival time seen; at first LOOKBACK_SECONDS back) to now, oldest
  first, scrolling through as many pages as Lens holds; the cursor moves after each page.
- Each new `transactionid`: the partner whose `trading_addresses` hold its sender or receiver
  (app.directory), a case (`POST /cases`, `source: lens`, `issue_type: order_exception`, the PO,
  invoice or shipment number as reference, the EDI type and Lens's error as summary) under the
  idempotency key `lens-<transactionid>`, then `exception.logged` recorded as event
  `lens-<transactionid>`: each lands once however often Lens serves it and however many pollers
  run. Only then is the transaction marked seen.
- A partner the directory does not know, or a case Trading Grid refuses: counted, listed on
  /ops, marked seen, never dropped silently.
- Lens or Trading Grid down or slow: the poll stops where it is (the cursor has not passed what
  was not done) and the next one waits longer, doubling up to MAX_BACKOFF_SECONDS; then it
  catches up from the cursor.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import logging
import time
from typing import Any

from redis.exceptions import LockError

from app import ingest, keyspace, queues, runtime
from app.opentext import lens
from app.opentext.client import OpenText, OpenTextError
from app.runtime import Runtime
from app.settings import Settings
from app.tradinggrid.bodies import NewCase
from app.tradinggrid.port import PermanentError, TransientError

log = logging.getLogger(__name__)
LEASE_SECONDS = 120
LOOKBACK_SECONDS = 24 * 3600  # the first poll reads this far back
MAX_BACKOFF_SECONDS = 900
SEEN_KEEP_SECONDS = 30 * 24 * 3600
UNKNOWN_KEEP = 500
PAGE = lens.PAGE  # transactions a Lens answer holds; more come by scrolling
REFERENCE_KEYS = ("purchase order number", "invoice number", "shipment identification")


@dataclasses.dataclass
class Outcome:
    cases: int = 0      # new cases, each with its alert
    seen: int = 0       # served again, already done
    unknown: int = 0    # no partner in the directory trades under its sender or receiver
    refused: int = 0    # Trading Grid refused the case
    error: str | None = None


def due() -> None:
    """A keeper task, every second: queues a poll when the wait since the last one is over."""
    rt = runtime.current()
    every = rt.settings.lens_poll_seconds
    if every > 0 and rt.redis.set(keyspace.LENS_NEXT, time.time(), nx=True, ex=every):
        rt.queues.enqueue(queues.EVENTS, queues.LENS_POLL, retry=False)


def poll_job() -> None:
    rt = runtime.current()
    poll(rt, client(rt.settings))


@functools.lru_cache(maxsize=4)
def client(settings: Settings) -> OpenText:
    """One client a process, so its token lives its ten hours instead of one poll."""
    return OpenText.from_settings(settings)


def poll(rt: Runtime, ot: OpenText, now: float | None = None) -> Outcome | None:
    """One poll; None when another poller holds the lease."""
    lease = rt.redis.lock(keyspace.LENS_LEASE, timeout=LEASE_SECONDS, thread_local=False)
    if not lease.acquire(blocking=False):
        return None
    outcome = Outcome()
    moment = now if now is not None else time.time()
    try:
        cursor = _text(rt.redis.get(keyspace.LENS_CURSOR)) or _iso(moment - LOOKBACK_SECONDS)
        try:
            for page in lens.failed(ot, cursor, _iso(moment), count=PAGE):
                for transaction in page:
                    _take(rt, transaction, outcome)
                newest = max(t.arrival for t in page)
                if newest > cursor:
                    cursor = newest
                    rt.redis.set(keyspace.LENS_CURSOR, cursor)
                lease.extend(LEASE_SECONDS, replace_ttl=True)
        except (OpenTextError, TransientError) as exc:
            outcome.error = str(exc)
        _note(rt, outcome, moment, cursor)
    finally:
        with contextlib.suppress(LockError):
            lease.release()
    return outcome


def _take(rt: Runtime, tx: lens.Transaction, outcome: Outcome) -> None:
    if rt.redis.zscore(keyspace.LENS_SEEN, tx.id) is not None:
        outcome.seen += 1
        return
    partner = rt.directory.partner_trading_as(tx.parties)
    if partner is None:
        _set_aside(rt, tx, "no partner in the directory trades as " + " or ".join(tx.parties or ("(nobody)",)))
        outcome.unknown += 1
    else:
        body = NewCase(partner_id=partner.id, issue_type="order_exception", reference=reference_of(tx),
                       summary=summary_of(tx), source="lens")
        try:
            case = rt.tradinggrid.create_case(body.args()[0], idempotency_key=f"lens-{tx.id}")
        except PermanentError as exc:
            _set_aside(rt, tx, f"Trading Grid refused the case: {exc.reason}")
            outcome.refused += 1
        else:
            ingest.record_own_event(rt, f"lens-{tx.id}", "exception.logged", time.time(), case_id=case["id"],
                                    partner_id=partner.id, issue_type="order_exception",
                                    reference=case.get("reference") or body.reference, summary=body.summary,
                                    thread_url=case.get("thread_url") or "")
            outcome.cases += 1
    rt.redis.zadd(keyspace.LENS_SEEN, {tx.id: _epoch(tx.arrival)})


def reference_of(tx: lens.Transaction) -> str:
    """The PO, invoice or shipment number its content keys carry, else Lens's own ids."""
    for key in REFERENCE_KEYS:
        if tx.content_keys.get(key):
            return tx.content_keys[key]
    return tx.id


def summary_of(tx: lens.Transaction) -> str:
    what = f"EDI {tx.editype} failed in Lens" if tx.editype else "A transaction failed in Lens"
    why = tx.error_message or (f"error {tx.error_code}" if tx.error_code else "no reason given")
    return f"{what}: {why}"[:500]


def _set_aside(rt: Runtime, tx: lens.Transaction, why: str) -> None:
    record = {"id": tx.id, "arrival": tx.arrival, "editype": tx.editype, "sender": " ".join(tx.sender),
              "receiver": " ".join(tx.receiver), "error": tx.error_message or tx.error_code, "why": why}
    with rt.redis.pipeline() as pipe:
        pipe.zadd(keyspace.LENS_UNKNOWN, {tx.id: _epoch(tx.arrival)})
        pipe.hset(keyspace.LENS_UNKNOWN_TX, tx.id, json.dumps(record))
        pipe.hincrby(keyspace.LENS_STATUS, "set_aside", 1)
        pipe.execute()
    log.warning("Lens transaction %s set aside: %s", tx.id, why)
    dropped = rt.redis.zrange(keyspace.LENS_UNKNOWN, 0, -UNKNOWN_KEEP - 1)
    if dropped:
        rt.redis.zrem(keyspace.LENS_UNKNOWN, *dropped)
        rt.redis.hdel(keyspace.LENS_UNKNOWN_TX, *dropped)


def _note(rt: Runtime, outcome: Outcome, moment: float, cursor: str) -> None:
    """What /ops shows; after a failure, the next poll waits longer (doubling)."""
    failures = int(rt.redis.hget(keyspace.LENS_STATUS, "failures") or 0)
    fields: dict[str, Any] = {"last_poll": moment, "cursor": cursor}
    if outcome.error:
        failures += 1
        fields.update(failures=failures, last_error=outcome.error[:500])
        wait = min(max(rt.settings.lens_poll_seconds, 1) * 2 ** min(failures, 10), MAX_BACKOFF_SECONDS)
        rt.redis.set(keyspace.LENS_NEXT, moment, ex=int(wait))
        log.warning("Lens poll stopped (%s); the next in %d s", outcome.error, wait)
    else:
        fields.update(failures=0, last_ok=moment, last_error="")
    with rt.redis.pipeline() as pipe:
        pipe.hset(keyspace.LENS_STATUS, mapping=fields)
        pipe.hincrby(keyspace.LENS_STATUS, "cases", outcome.cases)
        pipe.zremrangebyscore(keyspace.LENS_SEEN, "-inf", _epoch(cursor) - SEEN_KEEP_SECONDS)
        pipe.execute()


def status(rt: Runtime, listed: int = 20) -> dict[str, Any]:
    """For /ops: the poller's last run and counts, and the latest transactions set aside."""
    raw = {k.decode(): v.decode() for k, v in rt.redis.hgetall(keyspace.LENS_STATUS).items()}
    ids = rt.redis.zrevrange(keyspace.LENS_UNKNOWN, 0, listed - 1)
    records = rt.redis.hmget(keyspace.LENS_UNKNOWN_TX, ids) if ids else []
    return {"enabled": rt.settings.lens_poll_seconds > 0, "every_seconds": rt.settings.lens_poll_seconds,
            "last_poll": float(raw["last_poll"]) if raw.get("last_poll") else None,
            "last_ok": float(raw["last_ok"]) if raw.get("last_ok") else None,
            "last_error": raw.get("last_error") or None, "cursor": raw.get("cursor"),
            "cases": int(raw.get("cases", 0)), "set_aside": int(raw.get("set_aside", 0)),
            "set_aside_latest": [json.loads(r) for r in records if r]}


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(moment: str) -> float:
    try:
        return dt.datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def _text(raw: bytes | None) -> str | None:
    return raw.decode() if raw else None
