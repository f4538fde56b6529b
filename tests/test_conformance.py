"""Every real Cloud API payload in tests/fixtures/conformance (copied from the team's shared
conformance corpus, with its SOURCES.md and licences) is accepted cleanly, end to end."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from app import parked
from app.whatsapp.inbound import parse_notification
from tests.helpers import post_whatsapp

CORPUS = Path(__file__).resolve().parent / "fixtures" / "conformance" / "whatsapp"


def envelopes() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, body in json.loads((CORPUS / "meta-openapi" / "webhook_message_examples.json").read_text()).items():
        found.append((f"meta:{name}", body))
    for path in sorted((CORPUS / "pywa" / "updates").glob("*.json")):
        found += [(f"pywa:{path.stem}:{case}", body) for case, body in json.loads(path.read_text()).items()]
    for path in sorted((CORPUS / "whatsapp-api-js" / "v25").glob("*.json")):
        found.append((f"whatsapp-api-js:{path.stem}", json.loads(path.read_text())))
    for name, body in json.loads((CORPUS / "whatsapp-api-js" / "v25-bsuid" / "payloads.json").read_text()).items():
        found.append((f"whatsapp-api-js:bsuid:{name}", body))
    for name, body in json.loads((CORPUS / "meta-docs" / "system.json").read_text()).items():
        found.append((f"meta-docs:{name}", body))
    return found


ENVELOPES = envelopes()


def test_the_corpus_is_all_there() -> None:
    assert len(ENVELOPES) == 138, "tests/fixtures/conformance/whatsapp changed or is missing"


@pytest.mark.parametrize("name,body", ENVELOPES, ids=[n for n, _ in ENVELOPES])
def test_every_payload_is_accepted_and_handled_cleanly(name: str, body: dict[str, Any], client, rt, graph, work,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    note = parse_notification(body)
    raw_messages = [m for e in body["entry"] for c in e["changes"] if c.get("field") == "messages"
                    for m in c["value"].get("messages", [])]
    assert len(note.messages) == len(raw_messages), "a message was dropped by the parser"

    answer = post_whatsapp(client, body)
    assert answer.status_code == 200
    assert answer.get_json()["messages"] == len(note.messages)
    work()

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "an error was logged"
    assert parked.items(rt.redis) == []
    if not note.messages:
        assert graph.sent == [], "a status or account notice must never trigger a message"
