"""Hostile input, generated: property-based fuzzing of both webhooks and of `understand`, and the
endpoints checked against their OpenAPI description by schemathesis. Never a 5xx, never an
exception escaping, and reading time bounded on long input (no regex that explodes)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
import tempfile

import fakeredis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app, runtime
from app.signatures import sign, tradinggrid_payload
from app.settings import Settings
from intents import understand
from tests.conftest import APP_SECRET, EVENTS_SECRET, FIXTURES

INTENTS = {"confirm", "cancel", "accept", "reject", "acknowledge", "done", "help", "stop", "start", "status",
           "my_cases", "open_cases", "provide_info", "unknown"}
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
                    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
                    max_leaves=30)


def sandbox_app():  # type: ignore[no-untyped-def]
    folder = Path(tempfile.mkdtemp(prefix="tgwa-fuzz-"))
    settings = Settings.from_mapping({
        "WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_VERIFY_TOKEN": "verify", "TRADING_GRID_EVENTS_SECRET": EVENTS_SECRET,
        "DIRECTORY_FILE": str(FIXTURES / "directory.yaml"), "DATA_DIR": str(folder), "SANDBOX": "1"})
    connection = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return create_app(rt=runtime.build(settings, connection=connection), start_worker=False)


APP = sandbox_app()
CLIENT = APP.test_client()


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=600), country=st.sampled_from([None, "US", "DE", "GB", "BR"]),
       language=st.sampled_from([None, "en", "de", "es", "fr", "pt", "xx"]),
       today=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2090, 12, 31)))
def test_understand_reads_anything(text: str, country: str | None, language: str | None, today: dt.date) -> None:
    reading = understand(text, today=today, country=country, language=language)
    assert reading.intent in INTENTS
    assert reading.date is None or dt.date.fromisoformat(reading.date)
    assert all(r.value for r in reading.references)


@settings(max_examples=60, deadline=2000)
@given(unit=st.sampled_from(["1/", "3.12.", "a ", "next ", "PO ", "12 ", "Dec 3 ", "in 3 days ", "no not ", "🚚",
                             "1" * 40 + " ", "the 4th of ", "x-", "invoice 1 and "]),
       repeat=st.integers(min_value=100, max_value=3000))
def test_understand_stays_fast_on_long_repetitive_input(unit: str, repeat: int) -> None:
    assert understand(unit * repeat, today=dt.date(2026, 11, 24)).intent in INTENTS


@settings(max_examples=200, deadline=None)
@given(body=JSON)
def test_the_whatsapp_webhook_takes_any_signed_json(body: object) -> None:
    raw = json.dumps(body).encode()
    answer = CLIENT.post("/webhooks/whatsapp", data=raw, headers={"X-Hub-Signature-256": sign(APP_SECRET, raw)})
    assert answer.status_code == 200


@settings(max_examples=150, deadline=None)
@given(messages=st.lists(st.fixed_dictionaries({}, optional={
    "from": st.text(max_size=20), "id": st.text(max_size=30), "timestamp": st.one_of(st.text(max_size=12), st.integers()),
    "type": st.sampled_from(["text", "button", "interactive", "image", "system", "reaction", "weird"]),
    "text": st.one_of(JSON, st.fixed_dictionaries({"body": st.text(max_size=300)})),
    "interactive": JSON, "button": JSON, "context": JSON, "system": JSON}), max_size=4))
def test_the_whatsapp_webhook_takes_any_message_shape(messages: list[dict]) -> None:  # type: ignore[type-arg]
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp", "messages": messages}}]}]}
    raw = json.dumps(body).encode()
    answer = CLIENT.post("/webhooks/whatsapp", data=raw, headers={"X-Hub-Signature-256": sign(APP_SECRET, raw)})
    assert answer.status_code == 200


@settings(max_examples=200, deadline=None)
@given(body=JSON)
def test_the_tradinggrid_webhook_answers_any_signed_json(body: object) -> None:
    raw = json.dumps(body).encode()
    ts = str(int(dt.datetime.now().timestamp()))
    answer = CLIENT.post("/webhooks/tradinggrid", data=raw, headers={
        "X-TG-Timestamp": ts, "X-TG-Signature": sign(EVENTS_SECRET, tradinggrid_payload(ts, raw))})
    assert answer.status_code in (202, 200, 422)
    if answer.status_code == 422:
        assert all(set(e) == {"field", "message"} for e in answer.get_json()["errors"])


schema = schemathesis.openapi.from_wsgi("/openapi.yaml", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_endpoint_keeps_to_its_openapi_description(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate()
