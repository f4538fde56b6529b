"""Trading Grid writes as jobs: retried until they land, once; refusals parked, visible, retryable."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask
from rq.registry import ScheduledJobRegistry

from app import keyspace, parked, writes
from app.queues import WRITES
from app.tradinggrid.http import HttpTradingGrid
from app.worker import enqueue_due_retries
from conversations import say

JANA = "4915123456789"
AUTHOR = {"kind": "partner_contact", "id": JANA, "name": "Jana Weber", "phone": "+" + JANA}


def seed_case(grid) -> str:  # type: ignore[no-untyped-def]
    return grid.create_case({"partner_id": "ACME", "issue_type": "shipment_delay", "reference": "PO-1",
                             "summary": "late"}, idempotency_key="seed")["id"]


def test_a_write_job_lands_once_even_when_run_twice(rt, grid, work) -> None:
    case_id = seed_case(grid)
    for _ in range(2):
        rt.queues.enqueue(WRITES, writes.write_job, "add_comment",
                          [case_id, {"body": "can do 3/12", "author": AUTHOR, "wa_message_id": "wamid.1"}],
                          "wamid.1:comment", JANA)
    work()
    assert [c["body"] for c in grid.audit(case_id)["comments"]] == ["can do 3/12"]


def test_a_refused_write_is_parked_and_the_contact_told_in_her_language(rt, grid, work, graph) -> None:
    """Jana writes German: the background retry tells her so, as the turn would have (she wrote a
    moment ago, so a free-form message reaches her)."""
    rt.redis.set(keyspace.last_inbound_key(JANA), int(time.time()))
    rt.queues.enqueue(WRITES, writes.write_job, "add_comment",
                      ["CASE-404", {"body": "x", "author": AUTHOR}], "wamid.2:comment", JANA)
    work()
    [item] = parked.items(rt.redis)
    assert item["kind"] == "write" and "CASE-404 not found" in item["reason"]
    assert graph.texts_to(JANA) == [say.text("de", "write_failed")]
    assert graph.texts_to(JANA)[0].startswith("Entschuldigung")
    case_id = seed_case(grid)
    item["payload"]["args"][0] = case_id  # a person fixed the case id; retry as parked
    rt.redis.hset(keyspace.PARKED, item["id"], json.dumps(item))
    assert parked.retry(rt, item["id"]) is not None
    work()
    assert parked.items(rt.redis) == []
    assert len(grid.audit(case_id)["comments"]) == 1


def test_a_passing_failure_is_retried_later_with_the_same_key(rt, work) -> None:
    calls: list[str] = []
    flaky = Flask("flaky")

    @flaky.post("/cases/<case_id>/comments")
    def comment(case_id: str):  # type: ignore[no-untyped-def]
        from flask import request
        calls.append(request.headers["Idempotency-Key"])
        return ({"error": "down"}, 503) if len(calls) == 1 else ({"id": 1}, 201)

    from tests.loopback import serve
    with serve(flaky) as url:
        rt.tradinggrid = HttpTradingGrid(url)
        job = rt.queues.enqueue(WRITES, writes.write_job, "add_comment",
                                ["CASE-1", {"body": "x", "author": AUTHOR}], "wamid.3:comment")
        work()
        assert calls[0] == "wamid.3:comment"
        registry = ScheduledJobRegistry(queue=rt.queues.by_name[WRITES])
        if job.id in registry.get_job_ids():  # its backoff (a second or so) has not passed yet
            registry.schedule(job, datetime.now(timezone.utc) - timedelta(seconds=1))  # now it has
            enqueue_due_retries(rt.queues)
            work()
    assert calls == ["wamid.3:comment"] * 2
    assert not ScheduledJobRegistry(queue=rt.queues.by_name[WRITES]).get_job_ids(), "no further retry"
    assert not rt.redis.exists(job.key), "a finished job is dropped at once (its result is not kept)"


def test_only_write_operations_are_taken(rt) -> None:
    with pytest.raises(ValueError):
        rt.queues.enqueue(WRITES, writes.write_job, "get_case", ["x"], "k", retry=False).perform()
