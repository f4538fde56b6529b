"""The Graph client against a loopback Graph server: payloads that always fit Meta's limits,
and Meta's errors as types."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.whatsapp import errors, messages
from app.whatsapp.graph import GraphTransport, WhatsApp
from tests.fake_graph import PHONE_NUMBER_ID, TOKEN, FakeGraph

TO = "4915123456789"


@pytest.fixture
def wa(graph: FakeGraph) -> WhatsApp:
    return WhatsApp(GraphTransport(f"{graph.url}/v23.0", PHONE_NUMBER_ID, TOKEN))


def test_text_buttons_list_template_and_read_receipt_reach_graph(wa: WhatsApp, graph: FakeGraph) -> None:
    assert wa.send(messages.text(TO, "Hello")).startswith("wamid.")
    wa.send(messages.buttons(TO, "New date Thu 3 Dec 2026?", [("confirm:1", "Confirm"), ("change:1", "Change")]))
    wa.send(messages.choice_list(TO, "Which case?", "Choose", [("Open cases", [
        ("case:CASE-1001", "CASE-1001 PO-778812", "Shipment delay"), ("case:CASE-1002", "CASE-1002", None)])]))
    wa.send(messages.template(TO, "tgwa_exception", "en", ["PO-778812", "Truck\nbroke   down"], ["date:CASE-1001"]))
    wa.mark_read("wamid.in.1")
    kinds = [p["type"] for p in graph.sent]
    assert kinds == ["text", "interactive", "interactive", "template"]
    template = graph.sent[3]["template"]
    assert template["components"][0]["parameters"][1]["text"] == "Truck broke down"
    assert template["components"][1] == {"type": "button", "sub_type": "quick_reply", "index": "0",
                                         "parameters": [{"type": "payload", "payload": "date:CASE-1001"}]}
    assert graph.read_receipts == ["wamid.in.1"]


def test_long_texts_and_titles_are_fitted_not_refused() -> None:
    body = messages.text(TO, "x" * 5000)["text"]["body"]
    assert len(body) == 4096 and body.endswith("…")
    payload = messages.buttons(TO, "y" * 2000, [("a", "Confirm the new delivery date"),
                                                 ("b", "Confirm the new delivery date"), ("c", "Cancel")],
                               header="h" * 100, footer="f" * 100)["interactive"]
    titles = [b["reply"]["title"] for b in payload["action"]["buttons"]]
    assert all(len(t) <= 20 for t in titles) and len(set(titles)) == 3
    assert len(payload["body"]["text"]) == 1024
    assert len(payload["header"]["text"]) <= 60 and len(payload["footer"]["text"]) <= 60
    rows = [(f"r{i}", "Case with a very long title indeed", "d" * 100) for i in range(10)]
    listing = messages.choice_list(TO, "Pick", "Choose a case please", [("Cases", rows)])["interactive"]
    out_rows = listing["action"]["sections"][0]["rows"]
    assert len({r["title"] for r in out_rows}) == 10
    assert all(len(r["title"]) <= 24 and len(r["description"]) <= 72 for r in out_rows)
    assert len(listing["action"]["button"]) <= 20


@pytest.mark.parametrize("build", [
    lambda: messages.buttons(TO, "b", [("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")]),
    lambda: messages.buttons(TO, "b", [("1", "a"), ("1", "b")]),
    lambda: messages.buttons(TO, "  ", [("1", "a")]),
    lambda: messages.choice_list(TO, "b", "go", [("s", [(str(i), "t", None) for i in range(11)])]),
    lambda: messages.text(TO, ""),
], ids=["four-buttons", "same-id", "empty-body", "eleven-rows", "empty-text"])
def test_what_cannot_fit_is_refused_before_sending(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        build()


@pytest.mark.parametrize("code,status,kind,retryable", [
    (131047, 400, errors.WindowClosed, False),
    (130429, 400, errors.RateLimited, True),
    (131056, 400, errors.PairRateLimited, True),
    (131026, 400, errors.Undeliverable, False),
    (132000, 400, errors.TemplateParamsMismatch, False),
    (132001, 404, errors.TemplateNotFound, False),
    (190, 401, errors.AccessTokenInvalid, False),
    (131000, 500, errors.Unreachable, True),
    (100, 400, errors.GraphError, False),
    (None, 502, errors.Unreachable, True),
])
def test_meta_errors_become_typed_errors(wa: WhatsApp, graph: FakeGraph, code, status, kind, retryable) -> None:  # type: ignore[no-untyped-def]
    graph.fail_next(status, code)
    with pytest.raises(errors.GraphError) as failed:
        wa.send(messages.text(TO, "hi"))
    assert type(failed.value) is kind
    assert failed.value.code == code and failed.value.retryable is retryable
    assert wa.send(messages.text(TO, "hi again")), "the next send goes through"


def test_an_unreachable_graph_is_a_retryable_error() -> None:
    wa = WhatsApp(GraphTransport("http://127.0.0.1:1/v23.0", PHONE_NUMBER_ID, TOKEN))
    with pytest.raises(errors.Unreachable):
        wa.send(messages.text(TO, "hi"))


def test_the_payloads_match_metas_own_examples() -> None:
    """Our builders produce the shapes of Meta's OpenAPI request examples."""
    examples = json.loads((Path(__file__).resolve().parent / "fixtures" / "conformance" / "whatsapp" /
                           "meta-openapi" / "send_message_request_examples.json").read_text())
    by_type: dict[str, set[str]] = {}
    for example in examples.values():
        if example.get("type") == "interactive":
            by_type.setdefault(example["interactive"]["type"], set()).update(example["interactive"]["action"])
    ours = {"button": messages.buttons(TO, "b", [("1", "a")])["interactive"]["action"],
            "list": messages.choice_list(TO, "b", "go", [("s", [("1", "t", None)])])["interactive"]["action"]}
    for kind, action in ours.items():
        assert set(action) <= by_type[kind], kind
