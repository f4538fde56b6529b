"""POST /webhooks/tradinggrid: timestamped HMAC, the event schema with precise errors, dedupe."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from app import create_app, ingest, keyspace, notifications, queues, runtime
from app.events import schema
from tests.helpers import at_once, post_event

MARIA = "14155550134"  # GLOBEX, English

NOW = "2026-11-24T09:30:00Z"
VALID: dict[str, dict[str, Any]] = {
    "exception.logged": {"case_id": "CASE-1042", "partner_id": "ACME", "issue_type": "shipment_delay",
                         "reference": "PO-778812", "summary": "Truck broke down near Kassel",
                         "thread_url": "https://tg.example.com/cases/CASE-1042", "expected_date": "2026-12-03",
                         "notify": "both"},
    "document.uploaded": {"document_id": "DOC-9", "partner_id": "ACME", "document_type": "certificate_of_origin",
                          "document_name": "COO-ACME-2026.pdf", "approver_id": "u.smith",
                          "url": "https://tg.example.com/docs/DOC-9"},
    "document.requested": {"partner_id": "ACME", "document_type": "packing_list",
                           "url": "https://tg.example.com/docs/new", "due_date": "2026-11-30"},
    "milestone.reached": {"partner_id": "ACME", "order_ref": "PO-778812", "milestone": "goods_dispatched"},
    "alert.broadcast": {"alert_id": "AL-7", "category": "port_closure", "severity": "critical",
                        "title": "Port of Hamburg closed", "message": "Storm surge, expect 48h delays",
                        "targeting": {"regions": ["emea"], "roles": ["exceptions"]}, "requires_ack": True,
                        "ack_deadline": "2026-11-25T12:00:00+01:00", "owner_id": "u.smith"},
    "onboarding.pending": {"partner_id": "ACME", "action": "contract_review", "url": "https://tg.example.com/onb",
                           "remind_every_hours": 24},
    "onboarding.completed": {"partner_id": "ACME", "action": "contract_review"},
    "case.assigned": {"case_id": "CASE-1042", "assignee_id": "r.patel", "escalation_group_id": "support",
                      "summary": "Delay on PO-778812", "thread_url": "https://tg.example.com/cases/CASE-1042"},
    "schedule.revised": {"case_id": "CASE-1042", "partner_id": "ACME", "reference": "PO-778812",
                         "proposed_date": "2026-12-04", "thread_url": "https://tg.example.com/cases/CASE-1042"},
    "comment.added": {"case_id": "CASE-1042", "partner_id": "ACME", "comment_id": "CMT-1", "body": "Which container?",
                      "author": {"kind": "staff", "id": "u.smith", "name": "Una Smith"}, "visibility": "partner",
                      "thread_url": "https://tg.example.com/cases/CASE-1042"},
    "case.closed": {"case_id": "CASE-1042", "partner_id": "ACME", "resolution": "Delivered",
                    "thread_url": "https://tg.example.com/cases/CASE-1042"},
}


def event(kind: str, event_id: str | None = None, **changes: Any) -> dict[str, Any]:
    body = {"id": event_id or f"evt-{kind}-{time.time_ns()}", "type": kind, "occurred_at": NOW, **VALID[kind]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_event_type_is_accepted_once(kind: str, client) -> None:
    body = event(kind)
    first = post_event(client, body)
    assert first.status_code == 202, first.get_json()
    assert first.get_json() == {"event_id": body["id"], "status": "accepted"}
    again = post_event(client, body)
    assert again.status_code == 200
    assert again.get_json() == {"event_id": body["id"], "status": "duplicate"}


def test_a_duplicate_after_handling_does_nothing_again(client, work, graph) -> None:
    body = event("exception.logged", notify=None)
    post_event(client, body)
    work()
    sent = len(graph.sent)
    assert sent >= 1
    assert post_event(client, body).get_json()["status"] == "duplicate"
    work()
    assert len(graph.sent) == sent


def test_signature_and_timestamp_are_required(client) -> None:
    body = event("milestone.reached")
    assert post_event(client, body, secret="wrong").status_code == 401
    assert post_event(client, body, timestamp=int(time.time()) - 301).status_code == 401
    assert post_event(client, body, timestamp=int(time.time()) + 301).status_code == 401
    assert post_event(client, body, timestamp=int(time.time()) - 290).status_code == 202
    assert client.post("/webhooks/tradinggrid", json=body).status_code == 401
    assert client.post("/webhooks/tradinggrid", json=body, headers={
        "X-TG-Timestamp": "yesterday", "X-TG-Signature": "sha256=00"}).status_code == 401


def test_not_json_is_400(client) -> None:
    assert post_event(client, None, raw=b"<xml/>").status_code == 400
    assert post_event(client, None, raw=b"").status_code == 400


def errors_of(answer: Any) -> dict[str, str]:
    assert answer.status_code == 422
    return {e["field"]: e["message"] for e in answer.get_json()["errors"]}


def test_schema_errors_name_each_field(client) -> None:
    assert errors_of(post_event(client, [1, 2])) == {"": "an event must be a JSON object"}
    assert errors_of(post_event(client, {})) == {
        "id": "is required", "type": "is required", "occurred_at": "is required"}
    found = errors_of(post_event(client, event("exception.logged", case_id=None, issue_type="flood",
                                               thread_url="javascript:alert(1)", expected_date="3/12/2026",
                                               occurred_at="yesterday", summary="  ")))
    assert found == {
        "case_id": "is required",
        "issue_type": "must be one of shipment_delay, invoice_mismatch, order_exception, other",
        "thread_url": "must be an http(s) URL",
        "expected_date": "must be a YYYY-MM-DD date",
        "occurred_at": "must be an RFC 3339 timestamp",
        "summary": "must not be blank",
    }
    found = errors_of(post_event(client, event("alert.broadcast", requires_ack="yes",
                                               targeting={"regions": "EMEA", "issue_types": ["flood"]})))
    assert found == {"requires_ack": "must be a boolean", "targeting.regions": "must be an array",
                     "targeting.issue_types[0]": "must be one of shipment_delay, invoice_mismatch, order_exception, other"}
    assert errors_of(post_event(client, event("onboarding.pending", remind_every_hours=0))) == {
        "remind_every_hours": "must be at least 1"}
    assert errors_of(post_event(client, {"id": "x", "type": "case.exploded", "occurred_at": NOW})) == {
        "type": "must be one of " + ", ".join(sorted(VALID))}
    assert errors_of(post_event(client, event("schedule.revised", proposed_date="2026-02-30"))) == {
        "proposed_date": "must be a YYYY-MM-DD date"}
    assert errors_of(post_event(client, event("comment.added", visibility="everyone",
                                              author={"kind": "robot", "id": "x"}))) == {
        "visibility": "must be one of partner, internal", "author.kind": "must be one of staff, partner_contact",
        "author.name": "is required"}


def test_huge_fields_are_refused_not_stored(client) -> None:
    found = errors_of(post_event(client, event("exception.logged", summary="x" * 5000)))
    assert found == {"summary": "must be at most 4096 characters"}


def test_store_down_is_503(settings) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    client = create_app(rt=runtime.build(settings, connection=dead), start_worker=False).test_client()
    assert post_event(client, event("milestone.reached")).status_code == 503


EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "events").glob("*.json"))


def test_there_is_an_example_of_every_event_type() -> None:
    assert sorted(p.stem for p in EXAMPLES) == sorted(schema.SCHEMAS)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_each_example_event_is_accepted_and_handled(client, work, rt, example: Path) -> None:  # type: ignore[no-untyped-def]
    """The README's examples (for curl and `tgwa broadcast preview`) are events the webhook takes."""
    event = json.loads(example.read_text())
    answer = post_event(client, event)
    assert answer.status_code == 202, answer.get_json()
    work()
    assert rt.redis.hget(keyspace.event_key(event["id"]), "state") == b"done"


def delay(grid: Any, n: int) -> dict[str, Any]:
    """An exception on a case of GLOBEX's, for its contact Maria."""
    case = grid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": f"PO-55{n}",
                             "summary": "late"}, idempotency_key=f"seed-{n}")
    return event("exception.logged", f"evt-together-{n}", case_id=case["id"], partner_id="GLOBEX",
                 reference=f"PO-55{n}", notify="partner", expected_date=None)


def test_events_taken_together_are_recorded_once_and_handled_by_one_job(rt, work, graph, grid) -> None:
    """Events the webhook takes together (its group commit) share one round trip and one job
    (HANDLE_EVENTS); a copy of one among them is a duplicate, and each event is told once."""
    events = [delay(grid, n) for n in range(3)]
    assert ingest.record_events(rt, None, [*events, events[1]]) == [True, True, True, False]
    [job] = rt.queues.by_name[queues.EVENTS].get_jobs()
    assert job.func_name == queues.HANDLE_EVENTS and job.args == ([e["id"] for e in events],)
    work()
    told = graph.texts_to(MARIA)
    assert [sum(f"PO-55{n}" in text for text in told) for n in range(3)] == [1, 1, 1]
    assert all(rt.redis.hget(keyspace.event_key(e["id"]), "state") == b"done" for e in events)


def test_events_arriving_together_at_the_webhook_are_each_accepted_once(client, rt, work, graph, grid) -> None:
    events = [delay(grid, n) for n in range(6)]
    answers = at_once(lambda body: post_event(client, body), events * 2)
    assert sorted(a.status_code for a in answers) == [200] * 6 + [202] * 6
    assert sorted(a.get_json()["event_id"] for a in answers if a.status_code == 202) == sorted(e["id"] for e in events)
    work()
    told = graph.texts_to(MARIA)
    assert [sum(f"PO-55{n}" in text for text in told) for n in range(6)] == [1] * 6


def test_an_event_failing_among_others_gets_a_job_of_its_own(rt, work, graph, grid, monkeypatch) -> None:
    events = [delay(grid, n) for n in range(3)]
    real = notifications.handle

    def broken(rt: Any, parsed: Any) -> None:
        if parsed.id == events[1]["id"]:
            raise KeyError("a bug")
        real(rt, parsed)

    monkeypatch.setattr(notifications, "handle", broken)
    ingest.record_events(rt, None, events)
    work()
    told = graph.texts_to(MARIA)
    assert [sum(f"PO-55{n}" in text for text in told) for n in range(3)] == [1, 0, 1]
    [retried] = rt.queues.by_name[queues.EVENTS].scheduled_job_registry.get_job_ids()
    job = rt.queues.by_name[queues.EVENTS].fetch_job(retried)
    assert job.func_name == queues.HANDLE_EVENT and job.args == (events[1]["id"],)
    assert rt.redis.hget(keyspace.event_key(events[1]["id"]), "state") == b"pending"


def test_other_methods_are_told_what_the_endpoint_allows(client) -> None:
    for refused in (client.get("/webhooks/tradinggrid"), client.put("/webhooks/tradinggrid")):
        assert refused.status_code == 405 and refused.headers["Allow"] == "OPTIONS, POST"
        assert refused.get_json() == {"error": "The method is not allowed for the requested URL."}
    assert client.options("/webhooks/tradinggrid").headers["Allow"] == "OPTIONS, POST"


def test_a_body_over_the_limit_is_413_and_not_read_as_an_event(client) -> None:
    answer = post_event(client, None, raw=b"{" + b" " * (1024 * 1024) + b"}")
    assert answer.status_code == 413 and "body over" in answer.get_json()["error"]
