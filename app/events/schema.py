"""The Trading Grid event schema (contract section 3a), checked with JSON Schema.

`errors(event)` lists every problem as `{"field", "message"}` with the field's dotted path, so a
sender fixes all of them at once. Fields the contract does not name are allowed (new versions of
Trading Grid may add some) but never used.

Why two validators of one schema: jsonschema reports every error, as a sender needs, but takes
about 60 µs for a valid event, more than all the rest of the webhook; fastjsonschema compiles the
same schema to Python (about 8 µs) and stops at the first error. Every event goes through the
compiled check; only one it refuses is walked by jsonschema for the errors to answer with.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlparse

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from app.tradinggrid.port import ISSUE_TYPES

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
MILESTONES = ["order_confirmed", "goods_dispatched", "customs_cleared", "delivery_completed"]
ONBOARDING_ACTIONS = ["profile_completion", "document_submission", "contract_review", "test_transaction_approval"]

formats = FormatChecker(formats=())


@formats.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or (len(value) == 10 and bool(dt.date.fromisoformat(value)))


@formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not RFC3339.match(value):
        raise ValueError("not RFC 3339")
    return bool(dt.datetime.fromisoformat(value.replace("z", "Z")))


@formats.checks("uri")
def _is_url(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _text(limit: int = 200) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": limit, "pattern": r"\S"}


ID, LONG, URL = _text(), _text(4096), {"type": "string", "format": "uri", "maxLength": 2048}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
WORDS = {"type": "array", "items": _text(), "maxItems": 500}


def _event(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


SCHEMAS: dict[str, dict[str, Any]] = {
    "exception.logged": _event(
        {"case_id": ID, "partner_id": ID, "issue_type": {"enum": list(ISSUE_TYPES)}, "reference": ID,
         "summary": LONG, "thread_url": URL},
        {"expected_date": DATE, "notify": {"enum": ["partner", "internal", "both"]}}),
    "document.uploaded": _event(
        {"document_id": ID, "partner_id": ID, "document_type": ID, "document_name": _text(500),
         "approver_id": ID, "url": URL}, {"case_id": ID}),
    "document.requested": _event(
        {"partner_id": ID, "document_type": ID, "url": URL}, {"due_date": DATE, "case_id": ID}),
    "milestone.reached": _event(
        {"partner_id": ID, "order_ref": ID, "milestone": {"enum": MILESTONES}},
        {"details": LONG, "url": URL}),
    "alert.broadcast": _event(
        {"alert_id": ID, "category": {"enum": ["supplier_disruption", "port_closure", "compliance_deadline",
                                               "recall_notice", "other"]},
         "severity": {"enum": ["info", "high", "critical"]}, "title": _text(500), "message": LONG,
         "targeting": {"type": "object", "properties": {
             "partner_ids": WORDS, "regions": WORDS, "product_lines": WORDS, "roles": WORDS,
             "issue_types": {"type": "array", "items": {"enum": list(ISSUE_TYPES)}}}},
         "requires_ack": {"type": "boolean"}},
        {"ack_deadline": DATETIME, "owner_id": ID}),
    "onboarding.pending": _event(
        {"partner_id": ID, "action": {"enum": ONBOARDING_ACTIONS}, "url": URL},
        {"due_date": DATE, "remind_every_hours": {"type": "integer", "minimum": 1, "maximum": 24 * 90}}),
    "onboarding.completed": _event({"partner_id": ID, "action": {"enum": ONBOARDING_ACTIONS}}),
    "case.assigned": _event(
        {"case_id": ID, "assignee_id": ID, "summary": LONG, "thread_url": URL},
        {"previous_assignee_id": ID, "escalation_group_id": ID, "priority": ID, "reference": ID}),
    "schedule.revised": _event(
        {"case_id": ID, "partner_id": ID, "reference": ID, "proposed_date": DATE, "thread_url": URL},
        {"previous_date": DATE}),
    "comment.added": _event(
        {"case_id": ID, "partner_id": ID, "comment_id": ID, "body": LONG,
         "author": {"type": "object", "required": ["kind", "id", "name"], "properties": {
             "kind": {"enum": ["staff", "partner_contact"]}, "id": ID, "name": _text(500)}},
         "visibility": {"enum": ["partner", "internal"]}, "thread_url": URL}, {"notify_staff_id": ID}),
    "case.closed": _event({"case_id": ID, "partner_id": ID, "thread_url": URL}, {"resolution": LONG}),
}
ENVELOPE = _event({"id": ID, "type": {"enum": sorted(SCHEMAS)}, "occurred_at": DATETIME})
_VALIDATORS = {name: Draft202012Validator(schema, format_checker=formats)
               for name, schema in {**SCHEMAS, "": ENVELOPE}.items()}


def errors(event: Any) -> list[dict[str, str]]:
    """Every way `event` fails the schema; an empty list means it is valid."""
    if not isinstance(event, dict):
        return [{"field": "", "message": "an event must be a JSON object"}]
    return [] if valid(event) else every_error(event)


def every_error(event: dict[str, Any]) -> list[dict[str, str]]:
    """jsonschema's walk of `event`, every error it finds, by field."""
    found = [_describe(e) for e in _VALIDATORS[""].iter_errors(event)]
    kind = event.get("type")
    if isinstance(kind, str) and kind in SCHEMAS:
        found += [_describe(e) for e in _VALIDATORS[kind].iter_errors(event)]
    return sorted(found, key=lambda e: e["field"])


def _passes(check: Any) -> Any:
    """A format check as fastjsonschema takes one: False where jsonschema's would raise."""
    def passes(value: object) -> bool:
        try:
            return bool(check(value))
        except ValueError:
            return False
    return passes


_FORMATS = {"date": _passes(_is_date), "date-time": _passes(_is_datetime), "uri": _passes(_is_url)}
_COMPILED = {name: fastjsonschema.compile(schema, formats=_FORMATS) for name, schema in {**SCHEMAS, "": ENVELOPE}.items()}


def valid(event: Any) -> bool:
    """The compiled check: True when `event` meets the schema (errors(event) would be empty)."""
    try:
        _COMPILED[""](event)
        _COMPILED[event["type"]](event)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _describe(error: ValidationError) -> dict[str, str]:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return {"field": f"{path}.{missing}" if path else missing, "message": "is required"}
    messages = {
        "enum": lambda: "must be one of " + ", ".join(map(str, error.validator_value)),
        "type": lambda: f"must be {'an' if error.validator_value in ('object', 'array', 'integer') else 'a'} "
                        f"{error.validator_value}",
        "minLength": lambda: "must not be empty",
        "pattern": lambda: "must not be blank",
        "maxLength": lambda: f"must be at most {error.validator_value} characters",
        "maxItems": lambda: f"must have at most {error.validator_value} items",
        "minimum": lambda: f"must be at least {error.validator_value}",
        "maximum": lambda: f"must be at most {error.validator_value}",
        "format": lambda: {"date": "must be a YYYY-MM-DD date", "date-time": "must be an RFC 3339 timestamp",
                           "uri": "must be an http(s) URL"}.get(error.validator_value, "has the wrong format"),
    }
    describe = messages.get(str(error.validator))
    return {"field": path, "message": describe() if describe else error.message[:200]}
