"""A person is one contact however Meta names them: by number (`wa_id`), by business-scoped user
id (`user_id`, with or without a username), or both; replies and notifications go by whichever
Meta named them by last (`to` or `recipient`)."""
from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from app import delivery
from app.directory import DirectoryError, load
from app.whatsapp.inbound import parse_notification
from tests.chat import event
from tests.conftest import FIXTURES
from tests.test_conformance import CORPUS
from tests.helpers import envelope, post_whatsapp

MARIA, MARIA_ID = "14155550134", "US.13491208655302741918"   # Globex (US)
STRANGER_ID = "US.99990000111122223333"                     # nobody the directory or Meta's messages tie to a person
URL = "https://tg.example.com/cases/CASE-1042"


_ids = itertools.count(1)


def writes(client, work, body: str, wa_id: str | None, user_id: str | None,  # type: ignore[no-untyped-def]
           username: str | None = None) -> None:
    """The person writes; Meta names them by number, by user id, or both."""
    n = next(_ids)
    message = {"id": f"wamid.identity.{n}", "timestamp": str(1796000000 + n), "type": "text", "text": {"body": body}}
    contact: dict = {"profile": {"name": "Maria L", **({"username": username} if username else {})}}  # type: ignore[type-arg]
    if wa_id:
        message["from"], contact["wa_id"] = wa_id, wa_id
    if user_id:
        message["from_user_id"], contact["user_id"] = user_id, user_id
    body_ = envelope(message)
    body_["entry"][0]["changes"][0]["value"]["contacts"] = [contact]
    assert post_whatsapp(client, body_).status_code == 200
    work()


def addressed(graph) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    last = graph.sent[-1]
    return ("to", last["to"]) if "to" in last else ("recipient", last["recipient"])


def test_once_seen_together_the_user_id_alone_finds_the_person_and_is_answered_by_recipient(client, work, graph,
                                                                                            grid) -> None:
    case = grid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": "PO-4410093",
                             "summary": "late"}, idempotency_key="seed")
    writes(client, work, "help", MARIA, MARIA_ID, username="@marialopez")
    assert addressed(graph) == ("to", MARIA)
    writes(client, work, f"status {case['id']}", None, MARIA_ID)  # she hid her number behind her username
    assert addressed(graph) == ("recipient", MARIA_ID)
    assert graph.texts_to(MARIA_ID)[-1].startswith(f"{case['id']} (PO-4410093): open"), "Maria's case, not a stranger's"


def test_notifications_follow_how_meta_last_named_the_person(client, work, graph) -> None:
    writes(client, work, "hi", MARIA, MARIA_ID)
    writes(client, work, "hi", None, MARIA_ID)
    event(client, work, "exception.logged", case_id="CASE-1042", partner_id="GLOBEX", issue_type="shipment_delay",
          reference="PO-778812", summary="late", thread_url=URL)
    assert addressed(graph) == ("recipient", MARIA_ID)
    writes(client, work, "hi", MARIA, MARIA_ID)  # by number again
    event(client, work, "exception.logged", case_id="CASE-1043", partner_id="GLOBEX", issue_type="invoice_mismatch",
          reference="INV-77", summary="amount differs", thread_url=URL)
    assert addressed(graph) == ("to", MARIA)


def test_a_user_id_never_seen_with_a_number_is_an_unknown_sender(client, work, graph) -> None:
    writes(client, work, "status CASE-1001", None, STRANGER_ID)
    [reply] = graph.texts_to(STRANGER_ID)
    assert "not registered" in reply and "recipient" in graph.sent[-1]


def test_a_changed_user_id_keeps_being_the_same_contact(client, work, graph) -> None:
    writes(client, work, "hi", MARIA, MARIA_ID)
    change = {"id": "wamid.sys.uid", "timestamp": "1796100000", "type": "system",  # no sender: only the ids
              "system": {"body": "User Maria L changed from US.1349… to US.5555…", "previous_user_id": MARIA_ID,
                         "user_id": "US.55550000111122223333", "type": "user_changed_user_id"}}
    assert post_whatsapp(client, envelope(change)).status_code == 200
    work()
    writes(client, work, "help", None, "US.55550000111122223333")
    assert "not registered" not in graph.texts_to("US.55550000111122223333")[-1]


def test_the_directory_takes_a_user_id_per_contact_and_finds_the_person_by_it(tmp_path: Path) -> None:
    text = (FIXTURES / "directory.yaml").read_text()
    good = tmp_path / "good.yaml"
    good.write_text(text.replace('        phone: "(415) 555-0134"\n',
                                 f'        phone: "(415) 555-0134"\n        user_id: {MARIA_ID}\n'))
    person = load(good).person(MARIA_ID)
    assert person is not None and person.name == "Maria Lopez" and person.phone == MARIA
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace('        phone: "(415) 555-0134"\n', '        phone: "(415) 555-0134"\n        user_id: maria\n'))
    with pytest.raises(DirectoryError, match="is not a business-scoped user id"):
        load(bad)


SHAPES = json.loads((CORPUS / "whatsapp-api-js" / "v25-bsuid" / "payloads.json").read_text())
SYSTEM = json.loads((CORPUS / "meta-docs" / "system.json").read_text())
SHOWN_NUMBER = "16315551181"  # the number in the corpus, re-addressed to Maria's below


def as_maria(shape: str, text: str | None = None, message_id: str | None = None) -> dict[str, Any]:
    """One of Meta's own 2026 payloads (tests/fixtures/conformance), spoken by Maria."""
    raw = json.dumps(SHAPES[shape]).replace(SHOWN_NUMBER, MARIA)
    body = json.loads(raw)
    value = body["entry"][0]["changes"][0]["value"]
    for message in value.get("messages", []):
        message["id"] = message_id or f"wamid.shape.{next(_ids)}"
        if text is not None:
            message["text"]["body"] = text
    return body


def test_metas_own_bsuid_only_shapes_read_as_the_person_they_name() -> None:
    [message] = parse_notification(SHAPES["Incoming message / With username / has parent bsuid"]).messages
    assert (message.wa_id, message.user_id, message.username) == (None, MARIA_ID, "@testusername")
    assert message.sender == MARIA_ID
    [status] = parse_notification(SHAPES["Read status / With username / Has parent bsuid / was sent to bsuid"]).statuses
    assert (status.status, status.recipient) == ("read", MARIA_ID)
    [change] = parse_notification(SYSTEM["user_changed_user_id"]).messages
    assert change.system is not None and change.user_id == MARIA_ID  # no sender: the previous id is who it was
    assert (change.system["type"], change.system["new_user_id"]) == ("user_changed_user_id", "US.20584736190475628301")


def test_a_partner_known_by_user_id_alone_is_answered_by_recipient_in_metas_own_shapes(client, work, graph, grid,
                                                                                       rt) -> None:
    case = grid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": "PO-4410093",
                             "summary": "late"}, idempotency_key="seed")
    post = lambda body: post_whatsapp(client, body).status_code  # noqa: E731
    assert post(as_maria("Incoming message / With phone and username / has parent bsuid", "help")) == 200
    work()
    assert addressed(graph) == ("to", MARIA)
    assert post(as_maria("Incoming message / With username / has parent bsuid", f"status {case['id']}")) == 200
    work()
    assert addressed(graph) == ("recipient", MARIA_ID)
    assert graph.texts_to(MARIA_ID)[-1].startswith(f"{case['id']} (PO-4410093): open")

    read = copy.deepcopy(SHAPES["Read status / With username / Has parent bsuid / was sent to bsuid"])
    read["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = graph.wamids[-1]
    assert post(read) == 200
    work()
    assert delivery.status_of(rt, graph.wamids[-1])["status"] == "read"

    assert post(SYSTEM["user_changed_user_id"]) == 200  # her user id changes; she stays Maria
    work()
    writes(client, work, "help", None, "US.20584736190475628301")
    assert addressed(graph) == ("recipient", "US.20584736190475628301")
    assert "not registered" not in graph.texts_to("US.20584736190475628301")[-1]
