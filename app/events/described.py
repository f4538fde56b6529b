"""An accepted event as an operator reads it in a list: what it is about (the reference a person
would search for), and who it was for."""
from __future__ import annotations

from app.directory import Directory
from app.events.types import AlertBroadcast, CaseAssigned, Event

# The fields that name what an event is about, best first (each type has the first, or the next).
_ABOUT = {
    "exception.logged": ("reference", "case_id"),
    "schedule.revised": ("reference", "case_id"),
    "case.assigned": ("reference", "case_id"),
    "milestone.reached": ("order_ref",),
    "document.uploaded": ("document_name", "document_id"),
    "document.requested": ("document_type", "case_id"),
    "alert.broadcast": ("title", "alert_id"),
    "onboarding.pending": ("action",),
    "onboarding.completed": ("action",),
    "comment.added": ("case_id",),
    "case.closed": ("case_id",),
    "handoff": ("case_id", "phone"),
    "case.held": ("case_id",),
}
_WORDS = ("action", "document_type")  # codes shown as words: "contract review", not contract_review


def about(event: Event) -> str:
    """The reference the event is about ("PO-778812", "Port of Hamburg closed")."""
    for field in _ABOUT[event.type]:
        value = getattr(event, field, None)
        if value:
            return str(value).replace("_", " ") if field in _WORDS else str(value)
    return ""


def audience(event: Event, directory: Directory) -> str:
    """Who it was for: the partner by name, an alert's targeting, an assignment's assignee."""
    if isinstance(event, CaseAssigned):
        staff = directory.staff.get(event.assignee_id)
        return staff.name if staff else event.assignee_id
    if isinstance(event, AlertBroadcast):
        return " · ".join(", ".join(values) for values in event.targeting.given().values()) or "every opted-in contact"
    partner = directory.partners.get(event.partner_id)
    return partner.name if partner else event.partner_id or "support"
