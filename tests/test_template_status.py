"""Templates change under you: Meta pauses, disables, re-approves and recategorises them by
webhook; a template Meta would fail is not sent, and /ops shows each template as Meta last said."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app import delivery, parked, template_status
from app.settings import Settings
from tests.chat import Chat, event
from tests.conftest import FIXTURES, make_settings
from tests.helpers import post_whatsapp

MARIA = "14155550134"  # Globex (NA), English
URL = "https://tg.example.com/cases/CASE-1042"


@pytest.fixture
def settings(tmp_path: Path, graph, tradinggrid_url: str) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, graph.url, tradinggrid_url, DIRECTORY_FILE=str(FIXTURES / "notify_directory.yaml"))


def meta_says(client, field: str, **value: Any) -> None:  # type: ignore[no-untyped-def]
    body = {"object": "whatsapp_business_account",
            "entry": [{"id": "419561257915477", "time": 1796000000, "changes": [{"field": field, "value": value}]}]}
    assert post_whatsapp(client, body).status_code == 200


def template_is(client, status: str, name: str = "tgwa_exception_logged", language: str = "en",  # type: ignore[no-untyped-def]
                reason: str = "NONE") -> None:
    meta_says(client, "message_template_status_update", event=status, message_template_id=1689556908129832,
              message_template_name=name, message_template_language=language, reason=reason,
              message_template_category="UTILITY")


def delay(client, work) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return event(client, work, "exception.logged", case_id="CASE-1042", partner_id="GLOBEX", issue_type="shipment_delay",
                 reference="PO-778812", summary="Truck broke down", thread_url=URL)


def row(client, name: str = "tgwa_exception_logged", language: str = "en") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return next(r for r in client.get("/ops").get_json()["templates"] if (r["name"], r["language"]) == (name, language))


def test_a_paused_template_is_not_sent_and_the_notice_is_parked_until_it_is_approved_again(client, work, graph, rt) -> None:
    template_is(client, "PAUSED", reason="Low quality")
    assert row(client)["status"] == "PAUSED" and row(client)["usable"] is False
    delay(client, work)  # Maria has not written: only the template could reach her
    assert graph.sent == []
    [item] = parked.items(rt.redis)
    assert item["reason"] == "template tgwa_exception_logged (en) is PAUSED: Low quality, and the 24-hour window is closed"
    assert item["payload"]["payload"]["template"]["name"] == "tgwa_exception_logged"
    template_is(client, "APPROVED")
    parked.retry(rt, item["id"])  # what the operator's Retry on /ops does
    work()
    assert [p["type"] for p in graph.sent] == ["template"] and graph.sent[0]["to"] == MARIA
    delay(client, work)
    assert len(graph.sent) == 2, "approved again: notices go as before"


def test_a_disabled_template_is_not_the_fallback_when_the_window_is_open(client, work, graph, rt) -> None:
    maria = Chat(client, work, graph, MARIA)
    maria.says("hi")
    template_is(client, "DISABLED")
    graph.fail_next(400, 131047)  # the window closed after all
    alert = delay(client, work)
    assert all(p["type"] != "template" for p in graph.sent), "a disabled template is never sent"
    assert [i["reason"].split(":")[0] for i in parked.items(rt.redis)] == ["131047"]
    assert delivery.stats(rt, f"event:{alert['id']}")["failed"] == 1


def test_a_template_recategorised_as_marketing_is_shown_as_such(client, work) -> None:
    template_is(client, "APPROVED")
    meta_says(client, "template_category_update", message_template_id=1689556908129832,
              message_template_name="tgwa_exception_logged", message_template_language="en", new_category="MARKETING")
    shown = row(client)
    assert (shown["status"], shown["category"], shown["previous_category"]) == ("APPROVED", "MARKETING", "UTILITY")
    page = client.get("/ops", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "was UTILITY: billed and capped as marketing" in page


def test_meta_s_own_template_webhooks_are_recorded(client, rt) -> None:
    """pywa's fixtures of both webhooks (tests/fixtures/conformance, with their sources)."""
    updates = FIXTURES / "conformance" / "whatsapp" / "pywa" / "updates"
    for name in ("template_status_update", "template_category_update"):
        for body in json.loads((updates / f"{name}.json").read_text()).values():
            assert post_whatsapp(client, body).status_code == 200
    said = template_status.known(rt.redis)
    assert said["order_confirmation|en_US"]["status"] == "APPROVED"
    assert said["abandoned_cart|en"]["status"] == "REJECTED"
    assert said["abandoned_cart|en"]["reason"].startswith("Your template has parameters placed next to each other")
    assert said["my_message_template|he"]["category"] == "MARKETING"
    assert template_status.unusable(rt.redis, "abandoned_cart", "en") is not None
