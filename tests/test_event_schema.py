"""The events webhook checks each event twice over one schema: compiled (fastjsonschema, fast, first
error only) and, for one it refuses, walked by jsonschema (every error, for the sender). The two
must agree: an event the compiled check passes would otherwise be stored though jsonschema refuses
it, and one it refuses would be answered 422 with no errors to name."""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st

from app.events import schema
from tests.test_tradinggrid_webhook import NOW, VALID

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 3000) | st.floats(allow_nan=False) | st.sampled_from(
        ["", " ", "x", "x" * 201, "x" * 4097, "2026-12-03", "2026-02-30", "3/12/2026", "2026-11-24T09:30:00Z",
         "2026-11-24 09:30:00+01:00", "yesterday", "https://tg.example.com/x", "javascript:alert(1)", "ftp://x",
         "emea", "staff", "partner", "shipment_delay", "goods_dispatched", "critical", "contract_review"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["kind", "id", "name", "regions"]),
                                                                inner, max_size=3),
    max_leaves=6)


@st.composite
def near_valid(draw: Any) -> dict[str, Any]:
    """A valid event of some type with a few of its fields dropped or given other values."""
    kind = draw(st.sampled_from(sorted(VALID)))
    event: dict[str, Any] = {"id": "evt-1", "type": kind, "occurred_at": NOW, **VALID[kind]}
    for field in draw(st.lists(st.sampled_from(sorted(event)), max_size=3)):
        if draw(st.booleans()):
            event.pop(field, None)
        else:
            event[field] = draw(JSON)
    return event


@settings(max_examples=3000, deadline=None)
@given(near_valid())
def test_the_compiled_check_passes_exactly_what_jsonschema_passes(event: dict[str, Any]) -> None:
    assert schema.valid(event) == (schema.every_error(event) == [])


def test_every_valid_event_passes_the_compiled_check() -> None:
    for kind, fields in VALID.items():
        assert schema.valid({"id": "evt-1", "type": kind, "occurred_at": NOW, **fields}), kind
