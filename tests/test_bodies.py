"""Trading Grid is typed inside and plain JSON on the wire: a write's body goes to a job or the
parked list as the REST body the README describes and comes back the same; a case is read into
one typed Case."""
from __future__ import annotations

import dataclasses

import pytest

from app.tradinggrid import bodies
from app.tradinggrid.cases import Case
from app.tradinggrid.port import CASE_FIELDS
from app.tradinggrid.bodies import Author, NewAcknowledgment, NewCase, NewComment, NewExpectedDate, NewReference, NewTask

JANA = Author("partner_contact", "4915123456789", "Jana Weber", "+4915123456789")
EVERY_KIND = [
    NewCase("ACME", "shipment_delay", "SH-55501", "stuck at customs"),
    NewExpectedDate("CASE-1001", "2027-01-08"),
    NewReference("CASE-1001", "po", "PO-778812"),
    NewComment("CASE-1001", "can do 3/12", JANA, "wamid.1"),
    NewTask(partner_id="ACME", title="Call Jana back", case_id="CASE-1001"),
    NewAcknowledgment("alert", "AL-77", "acknowledged", JANA, "2026-12-02T09:00:00Z", "wamid.2", "ok"),
]


@pytest.mark.parametrize("body", EVERY_KIND, ids=lambda b: type(b).__name__)
def test_a_body_comes_back_from_its_json_as_it_went(body: bodies.Body) -> None:
    assert bodies.read(body.OPERATION, body.args()) == body


def test_the_json_is_the_rest_body_and_leaves_out_what_is_unset() -> None:
    assert NewComment("CASE-1", "x", JANA).args() == ["CASE-1", {
        "body": "x", "author": {"kind": "partner_contact", "id": "4915123456789", "name": "Jana Weber",
                                "phone": "+4915123456789"}, "source": "whatsapp"}]
    assert NewTask(partner_id="ACME", title="t").args() == [{"partner_id": "ACME", "title": "t", "description": ""}]
    assert NewExpectedDate("CASE-1", "2027-01-08").args() == ["CASE-1", {"expected_date": "2027-01-08"}]


def test_a_body_queued_by_an_older_tgwa_is_still_read() -> None:
    """Jobs queued before an upgrade carry plain JSON: unknown fields are dropped, defaults filled."""
    old = ["CASE-1", {"body": "x", "author": JANA.as_json(), "legacy": True}]
    assert bodies.read("add_comment", old) == NewComment("CASE-1", "x", JANA)


@pytest.mark.parametrize("operation, args", [("get_case", ["x"]), ("add_comment", ["CASE-1"]),
                                             ("create_case", [{"partner_id": "ACME"}])])
def test_what_is_not_a_write_tgwa_makes_is_refused(operation: str, args: list) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        bodies.read(operation, args)


def test_a_case_is_read_with_every_field_the_port_names_and_a_short_answer_too() -> None:
    assert [f.name for f in dataclasses.fields(Case)] == list(CASE_FIELDS)
    record = {"id": "CASE-1", "partner_id": "ACME", "status": "open", "issue_type": None, "extra": 1}
    assert Case.of(record) == Case("CASE-1", "ACME", "open")  # a missing issue type reads as "other"
    assert Case.of({"id": 7}).id == "7"
