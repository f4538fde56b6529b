"""When words fail, a form: with a published date-picker Flow (WHATSAPP_DATE_FLOW_ID), the
second message in a row with no date the bot can read opens it, and what the partner picks comes
back as an nfm_reply that is said back and confirmed like a typed date."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.settings import Settings
from tests.chat import Chat
from tests.conftest import make_settings
from tests.test_conversations import MARIA, exception_logged, new_case

FLOW_JSON = Path(__file__).resolve().parents[1] / "app" / "flows" / "pick_date.json"


@pytest.fixture
def settings(tmp_path: Path, graph, tradinggrid_url: str) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, graph.url, tradinggrid_url, WHATSAPP_DATE_FLOW_ID="1187364291")


def test_the_date_picker_flow_is_offered_and_its_answer_is_said_back(client, work, graph, grid) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria = Chat(client, work, graph, MARIA)
    maria.says("hmm", reply_to=graph.wamids[-1])
    maria.says("soonish", reply_to=graph.wamids[-2])
    sent = graph.sent[-1]["interactive"]
    parameters = sent["action"]["parameters"]
    assert sent["type"] == "flow" and parameters["flow_id"] == "1187364291"
    assert parameters["flow_action_payload"]["screen"] == "PICK_DATE"
    assert parameters["flow_token"] == f"case:{case['id']}"
    maria.fills_form({"date": "2027-12-06", "flow_token": parameters["flow_token"]}, to=graph.wamids[-1])
    assert maria.last == "New delivery date for PO-4410093: Mon 6 Dec 2027. Is that right?"
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-06"


def test_the_shipped_flow_json_has_the_screen_and_field_the_bot_reads() -> None:
    flow = json.loads(FLOW_JSON.read_text())
    [screen] = flow["screens"]
    assert screen["id"] == "PICK_DATE" and screen["terminal"] is True
    children = screen["layout"]["children"]
    assert any(c["type"] == "DatePicker" and c["name"] == "date" for c in children)
    footer = next(c for c in children if c["type"] == "Footer")
    assert footer["on-click-action"] == {"name": "complete", "payload": {"date": "${form.date}"}}
