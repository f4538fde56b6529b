"""The ops overview: what is going on, for operators only."""
from __future__ import annotations

import logging
import re
import time

import redis

from app import create_app, keyspace, parked, runtime
from app.logs import MaskingFormatter, mask
from tests.chat import Chat, event
from conversations import census, threads
from tests.conftest import make_settings

MARIA = "14155550134"


def test_the_overview_counts_conversations_parked_work_and_broadcasts(client, work, graph, rt) -> None:
    Chat(client, work, graph, MARIA).says("hi")
    event(client, work, "exception.logged", case_id="CASE-1", partner_id="GLOBEX", issue_type="shipment_delay",
          reference="PO-1", summary="late", thread_url="https://tg.example.com/x")
    answer = client.get("/ops")
    assert answer.status_code == 200
    overview = answer.get_json()
    assert overview["conversations"] == {"exception": {"awaiting_info": 1}}
    assert overview["waiting_contacts"] == 0 and overview["parked"] == []


def test_the_overview_is_behind_the_token(tmp_path, graph, redis_conn) -> None:  # type: ignore[no-untyped-def]
    def client_with(**extra: str):  # type: ignore[no-untyped-def]
        settings = make_settings(tmp_path, graph.url, None, **extra)
        return create_app(rt=runtime.build(settings, connection=redis_conn), start_worker=False).test_client()

    guarded = client_with(OPS_TOKEN="s3cret-ops")
    assert guarded.get("/ops").status_code == 401
    assert guarded.get("/ops", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get("/ops", headers={"Authorization": "Bearer s3cret-ops"}).status_code == 200
    assert guarded.get("/ops?token=s3cret-ops").status_code == 200
    production = client_with(APP_ENV="production", WHATSAPP_ACCESS_TOKEN="t", WHATSAPP_PHONE_NUMBER_ID="1",
                             REDIS_URL="redis://127.0.0.1:1/0", TRADING_GRID_EMBEDDED="1")  # the connection given is used
    assert production.get("/ops").status_code == 404, "no token in production: no ops page at all"
    assert production.get("/sandbox").status_code == 404


def test_logs_mask_phone_numbers_and_secrets(caplog) -> None:  # type: ignore[no-untyped-def]
    record = logging.LogRecord("tgwa", logging.INFO, __file__, 1,
                               "sending to 4915123456789 with Bearer EAAGabc123 and client_secret=hunter2", None, None)
    line = MaskingFormatter("%(message)s").format(record)
    assert "4915123456789" not in line and "6789" in line
    assert "EAAGabc123" not in line and "hunter2" not in line
    assert mask("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB") == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB"


def fill(rt, contacts: int, alert: str = "AL-9") -> list[str]:  # type: ignore[no-untyped-def]
    """`contacts` conversations, each with an alert thread awaiting acknowledgment, written as
    the bot writes them, and each contact inside the 24-hour window; the census counted once."""
    phones = [f"4477{n:08d}" for n in range(contacts)]
    now = time.time()
    value = threads.encode({"threads": {f"alert:{alert}": {"flow": "alert", "state": "awaiting_ack", "slots": {},
                                                         "opened_at": now, "updated_at": now}},
                            "session": {}, "sent": {}})
    for start in range(0, contacts, 1000):
        pipe = rt.redis.pipeline(transaction=False)
        for phone in phones[start:start + 1000]:
            pipe.set(keyspace.conversation_key(phone), value)
        pipe.zadd(keyspace.WINDOWS, {phone: int(now) - 60 for phone in phones[start:start + 1000]})
        pipe.execute()
    census.rebuild(rt.redis, threads.decode)
    return phones


def test_the_overview_at_twenty_thousand_contacts_is_a_page(client, rt) -> None:
    fill(rt, 20_000)
    for n in range(120):
        parked.park(rt.redis, "write", f"refused {n}", {"n": n})
    answer = client.get("/ops?per_page=50")
    overview = answer.get_json()
    assert len(answer.data) < 40_000, "a page, not everything"
    assert overview["conversations"] == {"alert": {"awaiting_ack": 20_000}}
    assert overview["totals"] == {"parked": 120, "notifications": 0, "broadcasts": 0, "awaiting_ack": 1,
                                  "windows": 20_000}
    [alert] = overview["awaiting_ack"]
    assert alert["alert_id"] == "AL-9" and alert["count"] == 20_000 and len(alert["not_acknowledged"]) == 50
    assert len(overview["windows"]) == 50 and [p["reason"] for p in overview["parked"]][:2] == ["refused 0", "refused 1"]
    assert overview["page"] == {"number": 1, "per_page": 50, "last": 400}
    last = client.get("/ops?page=3&per_page=50").get_json()
    assert [p["reason"] for p in last["parked"]] == [f"refused {n}" for n in range(100, 120)]
    html = client.get("/ops?per_page=50", headers={"Accept": "text/html"})
    assert html.status_code == 200 and len(html.data) < 60_000 and b"page 1 of 400" in html.data


def test_the_census_follows_conversations_and_a_recount_forgets_what_expired(client, work, graph, rt) -> None:
    maria = Chat(client, work, graph, MARIA)
    event(client, work, "alert.broadcast", alert_id="AL-1", category="port_closure", title="Port strike",
          message="Delays", severity="high",
          requires_ack=True, targeting={"partner_ids": ["GLOBEX"]})
    assert client.get("/ops").get_json()["awaiting_ack"][0]["not_acknowledged"] == ["Maria Lopez"]
    maria.taps("Acknowledge")
    overview = client.get("/ops").get_json()
    assert overview["awaiting_ack"] == [] and overview["conversations"] == {"alert": {"done": 1}}
    rt.redis.delete(keyspace.conversation_key(MARIA))  # thirty days untouched: it expires
    census.rebuild(rt.redis, threads.decode)
    assert client.get("/ops").get_json()["conversations"] == {}


def test_the_overview_with_redis_away_says_so_in_a_503(settings) -> None:  # type: ignore[no-untyped-def]
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    app = create_app(rt=runtime.build(settings, connection=dead), start_worker=False)
    for accept in ("application/json", "text/html"):
        answer = app.test_client().get("/ops", headers={"Accept": accept})
        assert answer.status_code == 503 and answer.get_json() == {"error": "the store does not answer; try again shortly"}


def test_notifications_are_listed_newest_first_with_type_reference_partner_and_when(client, work, graph, rt) -> None:
    """An operator reads what each notification was about, not its opaque id, newest on top."""
    event(client, work, "exception.logged", case_id="CASE-1", partner_id="GLOBEX", issue_type="shipment_delay",
          reference="PO-4410093", summary="late", thread_url="https://tg.example.com/cases/CASE-1")
    time.sleep(0.01)
    alert = event(client, work, "alert.broadcast", alert_id="AL-3", category="port_closure", severity="high",
                  title="Port of Oakland closed", message="No handling today", targeting={"regions": ["NA"]},
                  requires_ack=False)
    rows = client.get("/ops").get_json()["notifications"]
    assert [(r["type"], r["about"], r["for"]) for r in rows] == [
        ("alert.broadcast", "Port of Oakland closed", "NA"),
        ("exception.logged", "PO-4410093", "Globex Freight Inc.")]
    assert rows[0]["purpose"] == f"event:{alert['id']}" and rows[0]["sent_at"] >= rows[1]["sent_at"]
    assert rows[1]["link"] == "https://tg.example.com/cases/CASE-1" and rows[1]["sent"] == 1
    page = client.get("/ops", headers={"Accept": "text/html"}).get_data(as_text=True)
    shown = re.sub(r"<[^>]+>", " ", page)  # the words on the page, not its markup
    assert shown.index("Port of Oakland closed") < shown.index("PO-4410093") and "event:" not in shown


def test_notifications_come_fifty_to_a_page_and_the_rest_on_the_next(client, work, graph, rt) -> None:
    for n in range(3):
        event(client, work, "milestone.reached", partner_id="GLOBEX", order_ref=f"PO-{n:03}", milestone="customs_cleared")
    assert client.get("/ops").get_json()["page"]["per_page"] == 50
    first, second = (client.get(f"/ops?page={n}&per_page=2").get_json() for n in (1, 2))
    assert first["totals"]["notifications"] == 3 and first["page"]["last"] == 2
    assert [r["about"] for r in first["notifications"]] == ["PO-002", "PO-001"]
    assert [r["about"] for r in second["notifications"]] == ["PO-000"]
