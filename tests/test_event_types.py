"""Trading Grid events are typed behind the webhook: one class per type, holding exactly the
fields the schema gives that type, parsed from each example event the README offers."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from app.events import schema, types

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "events").glob("*.json"))


def test_every_type_the_schema_takes_has_a_class_with_the_same_fields() -> None:
    assert set(types.BY_TYPE) - types.OWN_TYPES == set(schema.SCHEMAS)
    assert not types.OWN_TYPES & set(schema.SCHEMAS), "Trading Grid may not send tgwa's own events"
    for kind, cls in types.BY_TYPE.items():
        if kind in types.OWN_TYPES:
            continue
        fields = {f.name for f in dataclasses.fields(cls)} - {"id", "occurred_at"}
        assert fields == set(schema.SCHEMAS[kind]["properties"]), kind


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_example_event_parses_into_its_class(path: Path) -> None:
    payload = json.loads(path.read_text())
    event = types.parse(payload)
    assert type(event).TYPE == payload["type"] == event.type and event.id == payload["id"]
    for name, value in payload.items():
        if name not in ("type", "targeting", "author"):
            assert getattr(event, name) == value, name
    if "author" in payload:
        assert dataclasses.asdict(getattr(event, "author")) == payload["author"]


def test_an_alerts_targeting_is_typed_and_says_which_keys_it_names() -> None:
    payload = json.loads((EXAMPLES[0].parent / "alert.broadcast.json").read_text())
    event = types.parse({**payload, "targeting": {"regions": ["EMEA"], "roles": ["exceptions"]}})
    assert isinstance(event, types.AlertBroadcast)
    assert event.targeting.given() == {"regions": ("EMEA",), "roles": ("exceptions",)}
    assert event.requires_ack is True and event.owner_id == "u.smith"
