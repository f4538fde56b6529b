"""One suite, both adapters: the embedded SQLite store and the HTTP adapter against a loopback
Trading Grid (with OAuth2 client credentials) behave the same."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.tradinggrid.embedded import EmbeddedTradingGrid
from app.tradinggrid.http import HttpTradingGrid
from app.tradinggrid.port import PermanentError, TradingGrid, TransientError, Upload
from app.tradinggrid.server import create_server
from tests.loopback import serve

CLIENT = ("tgwa-bot", "s3cret")
PARTNER_CONTACT = {"kind": "partner_contact", "id": "4915123456789", "name": "Jana Weber", "phone": "+4915123456789"}


@pytest.fixture(params=["embedded", "http"])
def grid(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TradingGrid]:
    store = EmbeddedTradingGrid(tmp_path / "tg.sqlite3")
    if request.param == "embedded":
        yield store
        return
    with serve(create_server(store, client=CLIENT)) as url:
        yield HttpTradingGrid(url, credentials=(f"{url}/oauth/token", *CLIENT))


def new_case(grid: TradingGrid, key: str = "k-case", **changes: Any) -> dict[str, Any]:
    body = {"partner_id": "ACME", "issue_type": "shipment_delay", "reference": "PO-778812",
            "summary": "Truck broke down", "source": "whatsapp", **changes}
    return grid.create_case(body, idempotency_key=key)


def test_cases_are_created_read_listed_and_patched(grid: TradingGrid) -> None:
    grid.ping()
    case = new_case(grid)
    assert case["id"].startswith("CASE-") and case["status"] == "open" and case["partner_id"] == "ACME"
    assert set(case) == {"id", "partner_id", "status", "issue_type", "reference", "summary", "assignee_id",
                         "expected_date", "thread_url", "updated_at"}
    assert grid.get_case(case["id"]) == case
    assert grid.get_case("CASE-404") is None
    other = new_case(grid, key="k2", partner_id="GLOBEX", reference="INV-1")
    assert [c["id"] for c in grid.list_cases(partner_id="ACME")] == [case["id"]]
    assert [c["id"] for c in grid.list_cases(reference="INV-1")] == [other["id"]]
    assert len(grid.list_cases()) == 2
    patched = grid.update_case(case["id"], {"expected_date": "2026-12-03"}, idempotency_key="k-patch")
    assert patched["expected_date"] == "2026-12-03"
    assert grid.get_case(case["id"])["expected_date"] == "2026-12-03"


def test_a_retried_write_lands_once(grid: TradingGrid, tmp_path: Path) -> None:
    first = new_case(grid, key="same")
    again = new_case(grid, key="same")
    assert again == first and len(grid.list_cases()) == 1
    body = {"body": "can do 3/12", "author": PARTNER_CONTACT, "source": "whatsapp", "wa_message_id": "wamid.1"}
    one = grid.add_comment(first["id"], body, idempotency_key="c1")
    assert grid.add_comment(first["id"], body, idempotency_key="c1") == one
    grid.add_comment(first["id"], body, idempotency_key="c2")
    store = EmbeddedTradingGrid(tmp_path / "tg.sqlite3")
    assert len(store.audit(first["id"])["comments"]) == 2


def test_references_tasks_and_acknowledgments(grid: TradingGrid, tmp_path: Path) -> None:
    case = new_case(grid)
    grid.add_reference(case["id"], {"kind": "invoice", "value": "2024 5561"}, idempotency_key="r1")
    task = grid.create_task({"case_id": case["id"], "partner_id": "ACME", "title": "Review proposed date",
                             "description": "Partner proposes Fri 4 Dec 2026", "assignee_id": "u.smith",
                             "due_date": "2026-11-25"}, idempotency_key="t1")
    assert task["id"].startswith("TASK-")
    ack = grid.create_acknowledgment({
        "subject_type": "schedule", "subject_id": case["id"], "response": "accepted", "responder": PARTNER_CONTACT,
        "responded_at": "2026-11-24T09:31:07Z", "wa_message_id": "wamid.2", "text": "accept"},
        idempotency_key="a1")
    assert ack["responded_at"] == "2026-11-24T09:31:07Z"
    audit = EmbeddedTradingGrid(tmp_path / "tg.sqlite3").audit(case["id"])
    assert [(r["kind"], r["value"]) for r in audit["references"]] == [("invoice", "2024 5561")]
    assert audit["tasks"][0]["title"] == "Review proposed date"
    assert audit["acknowledgments"][0]["responder"]["name"] == "Jana Weber"


def upload(tmp_path: Path, data: bytes, name: str = "pod-778812.pdf") -> tuple[Upload, str]:
    path = tmp_path / f"upload-{len(data)}"
    path.write_bytes(data)
    return Upload(name, "application/pdf", path, len(data)), hashlib.sha256(data).hexdigest()


def test_files_are_attached_to_cases_and_sent_as_documents_once(grid: TradingGrid, tmp_path: Path) -> None:
    case = new_case(grid)
    data = b"%PDF-1.4 " + bytes(range(256)) * 300
    file, digest = upload(tmp_path, data)
    metadata = {"author": PARTNER_CONTACT, "source": "whatsapp", "wa_message_id": "wamid.f1", "sha256": digest,
                "caption": "signed POD"}
    attached = grid.add_attachment(case["id"], metadata, file, idempotency_key="f1")
    assert {k: attached[k] for k in ("filename", "size", "sha256")} == {"filename": "pod-778812.pdf",
                                                                         "size": len(data), "sha256": digest}
    assert grid.add_attachment(case["id"], metadata, file, idempotency_key="f1") == attached, "a retry lands once"
    document = grid.create_document({**metadata, "partner_id": "ACME", "document_type": "packing_list"}, file,
                                    idempotency_key="d1")
    assert document["id"].startswith("DOC-") and document["id"] != attached["id"]
    with pytest.raises(PermanentError):
        grid.add_attachment("CASE-404", metadata, file, idempotency_key="f2")
    with pytest.raises(PermanentError):  # the bytes are not the ones the metadata names
        grid.add_attachment(case["id"], {**metadata, "sha256": "0" * 64}, file, idempotency_key="f3")
    with pytest.raises(PermanentError):
        grid.create_document(metadata, file, idempotency_key="d2")  # no partner, no document type


@pytest.mark.parametrize("call", [
    lambda g: new_case(g, issue_type="flood"),
    lambda g: new_case(g, partner_id=""),
    lambda g: g.update_case("CASE-1001", {"expected_date": "3/12"}, idempotency_key="p"),
    lambda g: g.update_case("CASE-1001", {"id": "CASE-1"}, idempotency_key="p"),
    lambda g: g.add_reference("CASE-1001", {"kind": "boat", "value": "x"}, idempotency_key="r"),
    lambda g: g.add_comment("CASE-1001", {"body": "hi", "author": {"kind": "robot"}}, idempotency_key="c"),
    lambda g: g.create_acknowledgment({"subject_type": "case", "subject_id": "CASE-1001", "response": "maybe",
                                       "responder": PARTNER_CONTACT, "responded_at": "2026-11-24T09:31:07Z"},
                                      idempotency_key="a"),
    lambda g: g.add_comment("CASE-9999", {"body": "hi", "author": PARTNER_CONTACT}, idempotency_key="c404"),
], ids=["issue_type", "partner", "date", "readonly-field", "reference-kind", "author", "ack-response", "no-case"])
def test_bad_writes_are_permanent_errors(grid: TradingGrid, call: Any) -> None:
    new_case(grid)
    with pytest.raises(PermanentError) as refused:
        call(grid)
    assert refused.value.reason


def flaky_server(status: int, headers: dict[str, str] | None = None) -> Flask:
    app = Flask("flaky")

    @app.route("/<path:anything>", methods=["GET", "POST", "PATCH"])
    def fail(anything: str) -> Any:
        return {"error": "nope"}, status, headers or {}

    return app


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_passing_failures_are_transient(status: int) -> None:
    with serve(flaky_server(status, {"Retry-After": "7"})) as url:
        with pytest.raises(TransientError) as failed:
            HttpTradingGrid(url).create_case({"partner_id": "A"}, idempotency_key="k")
    assert failed.value.status == status
    assert failed.value.retry_after == 7


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_client_errors_are_permanent(status: int) -> None:
    with serve(flaky_server(status)) as url:
        with pytest.raises(PermanentError):
            HttpTradingGrid(url).add_comment("CASE-1", {"body": "x"}, idempotency_key="k")


def test_refused_connections_and_timeouts_are_transient() -> None:
    with pytest.raises(TransientError):
        HttpTradingGrid("http://127.0.0.1:1").ping()
    slow = Flask("slow")

    @slow.get("/cases")
    def hang() -> Any:
        import time
        time.sleep(1)
        return {"items": []}

    with serve(slow) as url, pytest.raises(TransientError, match="timed out"):
        HttpTradingGrid(url, timeout=(1, 0.2)).list_cases()


def test_every_write_carries_the_same_idempotency_key_on_retry(tmp_path: Path) -> None:
    seen: list[str | None] = []
    app = Flask("recording")
    calls = {"n": 0}

    @app.post("/cases")
    def create() -> Any:
        from flask import request
        seen.append(request.headers.get("Idempotency-Key"))
        calls["n"] += 1
        return ({"error": "busy"}, 503) if calls["n"] == 1 else ({"id": "CASE-1"}, 201)

    with serve(app) as url:
        grid = HttpTradingGrid(url)
        with pytest.raises(TransientError):
            new_case(grid, key="msg:wamid.1:create_case")
        assert new_case(grid, key="msg:wamid.1:create_case") == {"id": "CASE-1"}
    assert seen == ["msg:wamid.1:create_case"] * 2


def test_an_expired_token_is_renewed_once(tmp_path: Path) -> None:
    store = EmbeddedTradingGrid(tmp_path / "tg.sqlite3")
    server = create_server(store, client=CLIENT)
    with serve(server) as url:
        grid = HttpTradingGrid(url, credentials=(f"{url}/oauth/token", *CLIENT))
        grid.ping()
        grid._oauth._token = "revoked"  # the gateway forgot our token: one 401, then a new token
        grid.ping()
        bad = HttpTradingGrid(url, credentials=(f"{url}/oauth/token", "tgwa-bot", "wrong"))
        with pytest.raises(PermanentError, match="token endpoint answered 401"):
            bad.ping()
