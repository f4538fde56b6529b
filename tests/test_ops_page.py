"""The ops overview: what is going on, for operators only."""
from __future__ import annotations

import logging

from app import create_app, runtime
from app.logs import MaskingFormatter, mask
from tests.chat import Chat, event
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
                             REDIS_URL="redis://127.0.0.1:1/0")  # the connection given is used
    assert production.get("/ops").status_code == 404, "no token in production: no ops page at all"
    assert production.get("/sandbox").status_code == 404


def test_logs_mask_phone_numbers_and_secrets(caplog) -> None:  # type: ignore[no-untyped-def]
    record = logging.LogRecord("tgwa", logging.INFO, __file__, 1,
                               "sending to 4915123456789 with Bearer EAAGabc123 and client_secret=hunter2", None, None)
    line = MaskingFormatter("%(message)s").format(record)
    assert "4915123456789" not in line and "6789" in line
    assert "EAAGabc123" not in line and "hunter2" not in line
    assert mask("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB") == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB"
