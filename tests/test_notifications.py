"""Who gets what for each event type, and who does not (opted out, not subscribed, not targeted,
wrong role), through the real webhook and worker against the loopback Graph server; then the
template/interactive choice, fan-out, and what happens later (reminders, escalations)."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

import pytest
from rq.registry import ScheduledJobRegistry

from app import delivery, notifications
from app.queues import EVENTS
from app.settings import Settings
from app.worker import enqueue_due_retries
from tests.chat import Chat, event
from tests.conftest import FIXTURES, make_settings

JANA, KARL, OTTO = "4915123456789", "4915133334444", "4915111112222"      # ACME (EMEA)
MARIA, SAM = "14155550134", "14155550199"                                 # GLOBEX (NA)
KENJI = "819012345678"                                                    # SAKURA (APAC), no roles
UNA, RAVI, LEA = "447700900123", "447700900456", "33612345678"           # staff
URL = "https://tg.example.com/cases/CASE-1042"


@pytest.fixture
def settings(tmp_path: Path, graph, tradinggrid_url: str) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, graph.url, tradinggrid_url, DIRECTORY_FILE=str(FIXTURES / "notify_directory.yaml"))


def told(graph) -> set[str]:  # type: ignore[no-untyped-def]
    return {p["to"] for p in graph.sent}


def exception(client, work, partner: str = "ACME", **extra):  # type: ignore[no-untyped-def]
    return event(client, work, "exception.logged", case_id="CASE-1042", partner_id=partner,
                 issue_type="shipment_delay", reference="PO-778812", summary="Truck broke down", thread_url=URL, **extra)


def test_exceptions_reach_the_exceptions_role_opted_in_only(client, work, graph) -> None:
    exception(client, work)
    assert told(graph) == {JANA}, "Karl has another role, Otto has not opted in"


def test_internal_exceptions_reach_the_support_group(client, work, graph) -> None:
    exception(client, work, notify="internal")
    assert told(graph) == {UNA, RAVI}
    graph.sent.clear()
    exception(client, work, notify="both")
    assert told(graph) == {JANA, UNA, RAVI}


def test_without_anyone_in_the_role_every_opted_in_contact_is_told(client, work, graph) -> None:
    exception(client, work, partner="SAKURA")
    assert told(graph) == {KENJI}


def test_a_contact_who_sent_stop_is_told_nothing(client, work, graph) -> None:
    Chat(client, work, graph, JANA).says("STOP")
    graph.sent.clear()
    exception(client, work)
    assert told(graph) == set()


def test_revised_schedules_go_to_the_exceptions_role(client, work, graph) -> None:
    event(client, work, "schedule.revised", case_id="CASE-1042", partner_id="GLOBEX", reference="PO-1",
          proposed_date="2027-01-08", thread_url=URL)
    assert told(graph) == {MARIA}, "Sam handles alerts, not exceptions"


def test_documents(client, work, graph) -> None:
    event(client, work, "document.uploaded", document_id="DOC-9", partner_id="ACME", document_type="packing_list",
          document_name="PL-77.pdf", approver_id="l.moreau", url=URL)
    assert told(graph) == {LEA}
    graph.sent.clear()
    event(client, work, "document.requested", partner_id="ACME", document_type="packing_list", url=URL)
    assert told(graph) == {JANA, KARL}


def test_milestones_reach_their_subscribers(client, work, graph) -> None:
    event(client, work, "milestone.reached", partner_id="ACME", order_ref="PO-778812", milestone="goods_dispatched")
    assert told(graph) == {JANA}
    assert "Ware versandt" in json.dumps(graph.sent[0], ensure_ascii=False), "Jana reads German, the milestone too"
    graph.sent.clear()
    event(client, work, "milestone.reached", partner_id="ACME", order_ref="PO-778812", milestone="customs_cleared")
    assert told(graph) == set(), "nobody subscribed to customs_cleared at ACME"


@pytest.mark.parametrize("targeting,expected", [
    ({"regions": ["emea"]}, {JANA, KARL}),
    ({"regions": ["EMEA"], "roles": ["exceptions"]}, {JANA}),
    ({"product_lines": ["electronics"]}, {JANA, KARL, KENJI}),
    ({"product_lines": ["chemicals"], "roles": ["alerts", "exceptions"]}, {MARIA, SAM}),
    ({"partner_ids": ["SAKURA", "GLOBEX"], "regions": ["apac"]}, {KENJI}),
    ({"regions": ["emea"], "product_lines": ["chemicals"]}, set()),
    ({}, {JANA, KARL, MARIA, SAM, KENJI}),
])
def test_alerts_reach_exactly_the_targeted_contacts(client, work, graph, targeting, expected) -> None:  # type: ignore[no-untyped-def]
    event(client, work, "alert.broadcast", alert_id="AL-1", category="port_closure", severity="high",
          title="Port closed", message="Expect delays", targeting=targeting, requires_ack=False)
    assert told(graph) == expected


def test_onboarding_and_assignments(client, work, graph) -> None:
    event(client, work, "onboarding.pending", partner_id="ACME", action="contract_review", url=URL)
    assert told(graph) == {JANA}
    graph.sent.clear()
    event(client, work, "case.assigned", case_id="CASE-1042", assignee_id="r.patel", escalation_group_id="escalations",
          summary="Delay", thread_url=URL)
    assert told(graph) == {RAVI, LEA}


def test_broadcast_preview_says_who_and_why_not(tmp_path: Path) -> None:
    alert = {"id": "evt-1", "type": "alert.broadcast", "occurred_at": "2026-11-24T09:00:00Z", "alert_id": "AL-1",
             "category": "port_closure", "severity": "high", "title": "Port closed", "message": "Expect delays",
             "targeting": {"regions": ["emea"], "roles": ["exceptions"]}, "requires_ack": True}
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(alert))
    done = subprocess.run([sys.executable, "-m", "app.cli", "broadcast", "preview", str(path)], capture_output=True,
                          text=True, timeout=60, env={"DIRECTORY_FILE": str(FIXTURES / "notify_directory.yaml"),
                                                      "DATA_DIR": str(tmp_path), "PATH": ""})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == '1 of 6 contacts would receive "Port closed":'
    assert "  + Jana Weber (Acme Logistics GmbH, +4915123456789)" in lines
    assert "  - Karl Braun (Acme Logistics GmbH, +4915133334444): no role in roles" in lines
    assert "  - Otto Kahn (Acme Logistics GmbH, +4915111112222): has not opted in" in lines
    assert "  - Maria Lopez (Globex Freight Inc., +14155550134): region NA is not in regions" in lines


# -- what form a notification takes ------------------------------------------------------------------
def test_template_outside_the_window_buttons_inside_and_131047_falls_back(client, work, graph) -> None:
    maria = Chat(client, work, graph, MARIA)
    exception(client, work, partner="GLOBEX")
    assert graph.sent[-1]["type"] == "template"
    template = graph.sent[-1]["template"]
    assert template["name"] == "tgwa_exception_logged" and template["language"]["code"] == "en"
    assert template["components"][1]["parameters"][0]["payload"] == "t|new_date|case:CASE-1042"
    maria.says("hi")
    exception(client, work, partner="GLOBEX")
    assert graph.sent[-1]["type"] == "interactive"
    graph.fail_next(400, 131047)  # Meta: the window closed after all
    event(client, work, "schedule.revised", case_id="CASE-1042", partner_id="GLOBEX", reference="PO-1",
          proposed_date="2027-01-08", thread_url=URL)
    assert graph.sent[-1]["type"] == "template" and graph.sent[-1]["template"]["name"] == "tgwa_schedule_revised"


def test_a_german_contact_gets_the_german_template(client, work, graph) -> None:
    exception(client, work)
    assert graph.sent[-1]["template"]["language"]["code"] == "de"


# -- broadcasts to many ---------------------------------------------------------------------------------
def directory_with(contacts: int, path: Path) -> Path:
    lines = ["partners:"]
    for n in range(contacts):
        lines += [f"  - id: P{n:03d}", f"    name: Partner {n}", "    region: EMEA", "    country: GB",
                  "    contacts:", f"      - name: Contact {n}", f'        phone: "+44 7700 9{n:05d}"', "        opt_in: true"]
    path.write_text("\n".join(lines + ["staff: []", "groups: []"]) + "\n")
    return path


def test_a_broadcast_to_many_fans_out_and_reports_progress(tmp_path, graph, tradinggrid_url, redis_conn,  # type: ignore[no-untyped-def]
                                                          monkeypatch) -> None:
    from app import create_app, runtime
    # 13 jobs of 20 (the last one short): the first four queued alone, the rest four to a round trip
    monkeypatch.setattr(notifications, "BATCH_SIZE", 20)
    monkeypatch.setattr(notifications, "JOBS_A_TRIP", 14)  # four jobs a trip: 4 + 4 + 1
    settings = make_settings(tmp_path, graph.url, tradinggrid_url,
                             DIRECTORY_FILE=str(directory_with(250, tmp_path / "many.yaml")))
    rt = runtime.build(settings, connection=redis_conn)
    client = create_app(rt=rt, start_worker=False).test_client()
    from app.worker import run_once

    def work() -> None:
        while run_once(rt.queues):
            pass

    alert = event(client, work, "alert.broadcast", alert_id="AL-9", category="recall_notice", severity="critical",
                  title="Recall", message="Batch 42", targeting={"regions": ["emea"]}, requires_ack=True)
    assert len(graph.sent) == 250 and len(told(graph)) == 250
    assert notifications.progress(rt, alert["id"]) == {"total": 250, "sent": 250, "delivered": 0, "read": 0, "failed": 0}
    statuses = [{"id": w, "status": "read", "timestamp": "1700000000", "recipient_id": p["to"]}
                for w, p in zip(graph.wamids[:40], graph.sent[:40])]
    from tests.helpers import envelope, post_whatsapp
    post_whatsapp(client, envelope(statuses=statuses))
    work()
    assert notifications.progress(rt, alert["id"])["read"] == 40
    assert delivery.stats(rt, f"event:{alert['id']}")["delivered"] == 40


# -- later ------------------------------------------------------------------------------------------------
def due_now(rt, job_id: str) -> None:  # type: ignore[no-untyped-def]
    """The scheduled job's moment has come (without waiting for it)."""
    registry = ScheduledJobRegistry(queue=rt.queues.by_name[EVENTS])
    job = rt.queues.by_name[EVENTS].fetch_job(job_id)
    assert job is not None, f"{job_id} is not scheduled"
    registry.schedule(job, dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
    enqueue_due_retries(rt.queues)


def scheduled(rt) -> dict[str, float]:  # type: ignore[no-untyped-def]
    registry = ScheduledJobRegistry(queue=rt.queues.by_name[EVENTS])
    return {job_id: registry.get_scheduled_time(job_id).timestamp() for job_id in registry.get_job_ids()}


def test_onboarding_is_reminded_outside_quiet_hours_until_done(client, work, graph, rt) -> None:
    # Quiet hours that begin an hour from now on Jana's clock: the notice goes at once, and a
    # reminder 26 hours later would fall in them, so it waits for their end, whatever the hour.
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    hour = dt.datetime.now(berlin).hour
    rt.settings = rt.settings.replace(quiet_hours=((hour + 1) % 24, (hour + 4) % 24))
    start = time.time()
    event(client, work, "onboarding.pending", partner_id="ACME", action="contract_review", url=URL,
                    remind_every_hours=26)
    [(job_id, at)] = scheduled(rt).items()
    local = dt.datetime.fromtimestamp(at, berlin)
    assert at > start + 26 * 3600 and (local.hour, local.minute) == ((hour + 4) % 24, 0)
    sent = len(graph.sent)
    due_now(rt, job_id)
    work()
    assert len(graph.sent) == sent + 1 and graph.sent[-1]["to"] == JANA
    jana = Chat(client, work, graph, JANA)
    jana.taps("done")
    [(next_job, _)] = [(j, a) for j, a in scheduled(rt).items() if j != job_id]
    due_now(rt, next_job)
    replies = len(graph.sent)
    work()
    assert len(graph.sent) == replies, "done: no more reminders"


def test_onboarding_completed_stops_reminders(client, work, graph, rt) -> None:
    event(client, work, "onboarding.pending", partner_id="ACME", action="profile_completion", url=URL)
    event(client, work, "onboarding.completed", partner_id="ACME", action="profile_completion")
    [(job_id, _)] = scheduled(rt).items()
    sent = len(graph.sent)
    due_now(rt, job_id)
    work()
    assert len(graph.sent) == sent


def test_an_unacknowledged_alert_is_reminded_once_then_its_owner_told(client, work, graph, rt) -> None:
    deadline = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).isoformat()
    event(client, work, "alert.broadcast", alert_id="AL-3", category="port_closure", severity="critical",
          title="Port closed", message="Expect delays", targeting={"regions": ["emea"]}, requires_ack=True,
          ack_deadline=deadline, owner_id="u.smith")
    Chat(client, work, graph, KARL).taps("acknowledge")
    graph.sent.clear()
    due_now(rt, next(j for j in scheduled(rt) if j.startswith("alert-deadline-")))
    work()
    assert told(graph) == {JANA}, "Karl acknowledged; Jana is reminded"
    graph.sent.clear()
    due_now(rt, next(j for j in scheduled(rt) if j.startswith("alert-report-")))
    work()
    assert told(graph) == {UNA}
    assert "Jana Weber (Acme Logistics GmbH)" in graph.texts_to(UNA)[0]


@pytest.mark.parametrize("acknowledged", [True, False])
def test_an_assignment_not_picked_up_in_30_minutes_goes_to_the_group(client, work, graph, rt, acknowledged) -> None:  # type: ignore[no-untyped-def]
    event(client, work, "case.assigned", case_id="CASE-7", assignee_id="r.patel", escalation_group_id="escalations",
          summary="Invoice dispute", thread_url=URL)
    [(job_id, at)] = scheduled(rt).items()
    assert at == pytest.approx(time.time() + 30 * 60, abs=60)
    if acknowledged:
        Chat(client, work, graph, RAVI).says("on it, got it")
    graph.sent.clear()
    due_now(rt, job_id)
    work()
    assert told(graph) == (set() if acknowledged else {LEA})
