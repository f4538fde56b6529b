"""Trading Grid events to WhatsApp messages (first version: who is told, and a text with the
reference and link). Templates, buttons, pacing and tracking build on this."""
from __future__ import annotations

from typing import Any

from app import outbound
from app.directory import Contact, Staff
from app.runtime import Runtime
from app.whatsapp import messages

ROLE_BY_TYPE = {"exception.logged": "exceptions", "schedule.revised": "exceptions",
                "document.requested": "documents", "onboarding.pending": "onboarding"}


def recipients(rt: Runtime, event: dict[str, Any]) -> list[Contact | Staff]:
    kind, directory = event["type"], rt.directory
    if kind == "document.uploaded":
        staff = directory.staff.get(event["approver_id"])
        return [staff] if staff else []
    if kind == "case.assigned":
        people = [directory.staff[event["assignee_id"]]] if event["assignee_id"] in directory.staff else []
        return people + directory.group_members(event.get("escalation_group_id") or "")
    partner = directory.partners.get(event.get("partner_id", ""))
    if partner is None:
        return []
    opted_in = [c for c in partner.contacts if c.opt_in]
    if kind == "milestone.reached":
        return [c for c in opted_in if event["milestone"] in c.milestones]
    role = ROLE_BY_TYPE.get(kind)
    with_role = [c for c in opted_in if role in c.roles]
    return with_role or opted_in


def summary(event: dict[str, Any]) -> str:
    kind = event["type"]
    if kind == "exception.logged":
        return f"{event['issue_type'].replace('_', ' ').capitalize()} on {event['reference']}: {event['summary']}\n{event['thread_url']}"
    if kind == "schedule.revised":
        return f"Revised schedule for {event['reference']}: proposed {event['proposed_date']}.\n{event['thread_url']}"
    if kind == "document.uploaded":
        return f"New {event['document_type']} to approve: {event['document_name']}\n{event['url']}"
    if kind == "document.requested":
        return f"Please upload a {event['document_type']}.\n{event['url']}"
    if kind == "milestone.reached":
        return f"Order {event['order_ref']}: {event['milestone'].replace('_', ' ')}."
    if kind == "onboarding.pending":
        return f"Onboarding step waiting: {event['action'].replace('_', ' ')}.\n{event['url']}"
    if kind == "case.assigned":
        return f"Case {event['case_id']} is assigned to you: {event['summary']}\n{event['thread_url']}"
    return str(event.get("title") or event["type"])


def handle(rt: Runtime, event: dict[str, Any]) -> None:
    if event["type"] in ("alert.broadcast", "onboarding.completed"):
        return
    body = summary(event)
    for person in recipients(rt, event):
        outbound.deliver(rt, messages.text(person.phone, body), f"event:{event['id']}:{person.phone}")
