"""An accepted event as an operator reads it in a list: what it is about (the reference a person
would search for), and who it was for."""
from __future__ import annotations

from typing import Any

from app.directory import Directory

# The fields that name what an event is about, best first (the schema says which each type has).
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
}
_TARGETS = ("partner_ids", "regions", "product_lines", "roles", "issue_types")


def about(event: dict[str, Any]) -> str:
    """The reference the event is about ("PO-778812", "Port of Hamburg closed")."""
    for field in _ABOUT.get(str(event.get("type")), ()):
        if event.get(field):
            return str(event[field]).replace("_", " ") if field in ("action", "document_type") else str(event[field])
    return ""


def audience(event: dict[str, Any], directory: Directory) -> str:
    """Who it was for: the partner by name, an alert's targeting, an assignment's assignee."""
    if event.get("partner_id"):
        partner = directory.partners.get(str(event["partner_id"]))
        return partner.name if partner else str(event["partner_id"])
    if event.get("type") == "case.assigned":
        staff = directory.staff.get(str(event.get("assignee_id")))
        return staff.name if staff else str(event.get("assignee_id", ""))
    targeting = event.get("targeting") or {}
    named = [", ".join(map(str, targeting[k])) for k in _TARGETS if targeting.get(k)]
    return " · ".join(named) or "every opted-in contact"
