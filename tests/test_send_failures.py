"""What follows a send Meta fails: in its answer or later in a `failed` status, one table of
Meta's codes decides (app.whatsapp.errors.WHAT_TO_DO), over the loopback Graph server."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from rq.registry import ScheduledJobRegistry

from app import outbound, pace, parked, send_failures
from app.queues import OUTBOUND
from app.settings import Settings
from app.whatsapp import errors
from tests.chat import Chat, event
from tests.conftest import FIXTURES, make_settings
from tests.helpers import envelope, post_whatsapp

MARIA, LEA = "14155550134", "33612345678"  # Globex (NA); Lea Moreau, staff
URL = "https://tg.example.com/cases/CASE-1042"


@pytest.fixture
def settings(tmp_path: Path, graph, tradinggrid_url: str) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, graph.url, tradinggrid_url, DIRECTORY_FILE=str(FIXTURES / "notify_directory.yaml"))


def failed(client, work, wamid: str, code: int, title: str, details: str = "") -> None:  # type: ignore[no-untyped-def]
    """Meta's later word: the message it took has failed."""
    status = {"id": wamid, "status": "failed", "timestamp": str(int(time.time())), "recipient_id": MARIA,
              "errors": [{"code": code, "title": title, "error_data": {"details": details}}]}
    assert post_whatsapp(client, envelope(statuses=[status])).status_code == 200
    work()


def delay(client, work) -> None:  # type: ignore[no-untyped-def]
    event(client, work, "exception.logged", case_id="CASE-1042", partner_id="GLOBEX", issue_type="shipment_delay",
          reference="PO-778812", summary="Truck broke down", thread_url=URL)


def test_every_code_the_platform_names_has_one_thing_to_do() -> None:
    assert errors.action(131047) is errors.Action.RESEND_AS_TEMPLATE
    assert {errors.action(c) for c in (131026, 131021)} == {errors.Action.TELL_OWNER}
    assert {errors.action(c) for c in (131049, 130472)} == {errors.Action.RETRY_HOURS_LATER}
    assert errors.action(131056) is errors.Action.PACE
    assert {errors.action(c) for c in (131000, 131016)} == {errors.Action.RETRY}
    assert errors.action(135000) is errors.Action.PARK and errors.action(None) is errors.Action.PARK


def test_a_later_131047_brings_the_template_once(client, work, graph) -> None:
    maria = Chat(client, work, graph, MARIA)
    maria.says("hi")  # the window is open: the delay goes as buttons
    delay(client, work)
    assert graph.sent[-1]["type"] == "interactive"
    wamid, sent = graph.wamids[-1], len(graph.sent)
    failed(client, work, wamid, 131047, "Re-engagement message")
    failed(client, work, wamid, 131047, "Re-engagement message")  # Meta delivers statuses again
    assert len(graph.sent) == sent + 1
    assert graph.sent[-1]["type"] == "template" and graph.sent[-1]["template"]["name"] == "tgwa_exception_logged"


def test_a_later_131026_tells_the_alerts_owner_and_parks_it(client, work, graph, rt) -> None:
    event(client, work, "alert.broadcast", alert_id="AL-7", category="port_closure", severity="high",
          title="Port of Oakland closed", message="No handling today", targeting={"partner_ids": ["GLOBEX"]},
          requires_ack=False, owner_id="l.moreau")
    to_maria = [w for w, p in zip(graph.wamids, graph.sent) if p["to"] == MARIA]
    failed(client, work, to_maria[0], 131026, "Message undeliverable", "the number is not on WhatsApp")
    assert graph.texts_to(LEA) == [
        'Maria Lopez (Globex Freight Inc.) could not be reached on WhatsApp about Port of Oakland closed: Meta says '
        '"131026: Message undeliverable: the number is not on WhatsApp". Please reach them another way.']
    reasons = [item["reason"] for item in parked.items(rt.redis)]
    assert reasons == ["131026: Message undeliverable: the number is not on WhatsApp"]


def test_131026_in_the_send_answer_is_acted_on_alike(client, work, graph, rt) -> None:
    graph.fail_next(400, 131026)
    event(client, work, "alert.broadcast", alert_id="AL-8", category="port_closure", severity="high",
          title="Port of Oakland closed", message="No handling today", targeting={"partner_ids": ["GLOBEX"]},
          requires_ack=False, owner_id="l.moreau")
    assert len(graph.texts_to(LEA)) == 1 and "131026" in graph.texts_to(LEA)[0]
    assert len(parked.items(rt.redis)) == 1


def test_meta_s_per_user_limit_is_tried_again_hours_later_not_at_once(client, work, graph, rt) -> None:
    delay(client, work)
    wamid, sent = graph.wamids[-1], len(graph.sent)
    failed(client, work, wamid, 131049, "This message was not delivered to maintain healthy ecosystem engagement.")
    assert len(graph.sent) == sent, "nothing is sent again at once"
    registry = ScheduledJobRegistry(OUTBOUND, connection=rt.queues.connection)
    [job_id] = registry.get_job_ids()
    later = registry.get_scheduled_time(job_id).timestamp()
    assert later - time.time() > send_failures.RETRY_LATER_SECONDS - 60
    assert parked.items(rt.redis) == []


def test_a_later_131056_sends_again_once_the_pair_rate_allows_never_at_once(client, work, graph, rt) -> None:
    delay(client, work)
    wamid, sent = graph.wamids[-1], len(graph.sent)
    told = time.time()  # Meta says so now: nothing to her before a full pair interval from here
    failed(client, work, wamid, 131056, "(Business Account, Consumer Account) pair rate limit hit")
    failed(client, work, wamid, 131056, "(Business Account, Consumer Account) pair rate limit hit")  # twice
    assert len(graph.sent) == sent, "nothing is sent again at once"
    registry = ScheduledJobRegistry(OUTBOUND, connection=rt.queues.connection)
    [job_id] = registry.get_job_ids()
    # (RQ keeps a scheduled time to the second, rounded down: hence the second allowed.)
    assert registry.get_scheduled_time(job_id).timestamp() >= told + pace.PAIR_INTERVAL_SECONDS - 1
    wait = outbound.claim(rt, MARIA, "tgwa:test:next-to-maria")[0]
    assert isinstance(wait, float) and time.time() + wait >= told + pace.PAIR_INTERVAL_SECONDS - 0.05, \
        "her next message waits too: Meta just said she has had enough for now"
    assert parked.items(rt.redis) == []


def test_a_failure_on_metas_side_is_sent_again_once_then_parked(client, work, graph, rt) -> None:
    delay(client, work)
    failed(client, work, graph.wamids[-1], 131000, "Something went wrong")
    first, again = ({k: v for k, v in p.items() if k != "biz_opaque_callback_data"} for p in graph.sent)
    assert len(graph.sent) == 2 and first == again
    failed(client, work, graph.wamids[-1], 131000, "Something went wrong")  # the second try fails too
    assert len(graph.sent) == 2
    assert [i["reason"] for i in parked.items(rt.redis)] == ["131000: Something went wrong"]


def test_an_unknown_code_is_parked_with_metas_title_and_details(client, work, graph, rt) -> None:
    delay(client, work)
    failed(client, work, graph.wamids[-1], 135000, "Generic user error", "unexpected parameter")
    [item] = parked.items(rt.redis)
    assert item["kind"] == "send" and item["reason"] == "135000: Generic user error: unexpected parameter"
    assert item["payload"]["payload"]["to"] == MARIA


def priced(client, work, wamid: str, status: str, billable: bool, category: str) -> None:  # type: ignore[no-untyped-def]
    """Meta's status with its pricing block, as every status of a priced message carries it."""
    body = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": MARIA,
            "pricing": {"billable": billable, "pricing_model": "PMP", "category": category, "type": "regular"}}
    assert post_whatsapp(client, envelope(statuses=[body])).status_code == 200
    work()


def test_ops_counts_billable_messages_this_month_by_what_they_were_for(client, work, graph) -> None:
    delay(client, work)
    notice = graph.wamids[-1]
    for status in ("sent", "delivered", "read"):  # each status carries the pricing: counted once
        priced(client, work, notice, status, True, "utility")
    maria = Chat(client, work, graph, MARIA)
    maria.says("help")
    priced(client, work, graph.wamids[-1], "sent", False, "service")  # inside the window: free
    month = time.strftime("%Y-%m", time.gmtime())
    billable = client.get("/ops").get_json()["billable"]
    assert billable == {"month": month, "by_kind": [{"kind": "exception.logged", "category": "utility", "messages": 1}]}
    page = client.get("/ops", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert f"Billable messages in {month}" in page and "exception.logged" in page
