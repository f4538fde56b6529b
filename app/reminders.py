"""The jobs that run later (planned by app.notifications, kept by RQ in Redis, so they survive restarts):

- an onboarding step is asked about again every `remind_every_hours` until it is done, completed
  or past its due date; never between 20:00 and 08:00 in the contact's own time zone;
- an alert that needs acknowledging gets one reminder at its deadline, and an hour later its
  owner gets the list of who has still not answered;
- a case assignment not acknowledged within 30 minutes goes to the escalation group.
"""
from __future__ import annotations

import json
import logging
import time
from typing import TypeVar

from app import keyspace, localtime, notifications, runtime
from app.queues import EVENTS
from app.events import types
from app.events.types import AlertBroadcast, CaseAssigned, OnboardingPending
from app.runtime import Runtime
from conversations import say, threads
from conversations.flows import acks

log = logging.getLogger(__name__)
ALERT_REPORT_AFTER_SECONDS = 3600
E = TypeVar("E", bound=types.BaseEvent)


def _event(rt: Runtime, event_id: str, kind: type[E]) -> E | None:
    """The stored event, typed; None when it is gone (or, never expected, of another type)."""
    raw = rt.redis.hget(keyspace.event_key(event_id), "payload")
    event = types.parse(json.loads(raw)) if raw else None
    return event if isinstance(event, kind) else None


def _open_thread(rt: Runtime, phone: str, thread_id: str) -> threads.Thread | None:
    thread = threads.load(rt, phone).threads.get(thread_id)
    return thread if thread is not None and thread.open else None


def remind_onboarding(event_id: str, phone: str, at: int) -> None:
    rt = runtime.current()
    event = _event(rt, event_id, OnboardingPending)
    person = rt.directory.person(phone)
    if event is None or person is None:
        return
    thread = _open_thread(rt, phone, acks.thread_id("onboarding", event))
    if thread is None or thread.slots.get("next_reminder_at") != at:
        return  # done, completed, or this reminder was replaced by a later one ("remind me tomorrow")
    if event.due_date and localtime.local_date(phone, time.time()).isoformat() > event.due_date:
        return
    if not notifications.reachable(rt, person):
        return
    notice = notifications.BUILDERS[event.type](rt, event, person, person.language)
    notifications.send(rt, event, person, notice, key=f"reminder:{event_id}:{phone}:{at}")
    notifications.plan_onboarding(rt, event, phone, since=at)


def alert_deadline(event_id: str) -> None:
    """One reminder to everyone who has not acknowledged; the owner hears an hour later."""
    rt = runtime.current()
    event = _event(rt, event_id, AlertBroadcast)
    if event is None:
        return
    for person in notifications.recipients(rt, event):
        if _open_thread(rt, person.phone, acks.thread_id("alert", event)) is not None:
            notice = notifications.BUILDERS[event.type](rt, event, person, person.language)
            notifications.send(rt, event, person, notice, key=f"reminder:{event_id}:{person.phone}")
    rt.queues.enqueue_at(EVENTS, time.time() + ALERT_REPORT_AFTER_SECONDS, alert_report, event_id,
                         job_id=f"alert-report-{event_id}")


def alert_report(event_id: str) -> None:
    rt = runtime.current()
    event = _event(rt, event_id, AlertBroadcast)
    owner = rt.directory.staff.get(event.owner_id or "") if event else None
    if event is None or owner is None or not notifications.reachable(rt, owner):
        return
    silent = [p for p in notifications.recipients(rt, event)
              if _open_thread(rt, p.phone, acks.thread_id("alert", event)) is not None]
    if not silent:
        return
    names = ", ".join(f"{p.name} ({rt.directory.partners[p.partner_id].name})" if hasattr(p, "partner_id") else p.name
                      for p in silent)
    body = say.text(owner.language, "alert_report", title=event.title, count=len(silent), names=names)
    notice = notifications.Notice(body, [], {"title": event.title, "count": str(len(silent)), "names": names},
                                  template="alert.unacknowledged")
    notifications.send(rt, event, owner, notice, key=f"report:{event_id}")


def assignment_check(event_id: str) -> None:
    rt = runtime.current()
    event = _event(rt, event_id, CaseAssigned)
    assignee = rt.directory.staff.get(event.assignee_id) if event else None
    if event is None or assignee is None or not event.escalation_group_id:
        return
    if _open_thread(rt, assignee.phone, acks.thread_id("assignment", event)) is None:
        return  # picked up in time
    for member in rt.directory.group_members(event.escalation_group_id):
        if member.id == assignee.id or not notifications.reachable(rt, member):
            continue
        body = say.text(member.language, "assignment_unacknowledged", case_id=event.case_id,
                        assignee=assignee.name, summary=event.summary, url=event.thread_url)
        notice = notifications.Notice(body, [], {"case_id": event.case_id, "assignee": assignee.name,
                                                 "summary": event.summary, "url": event.thread_url},
                                      template="case.unacknowledged")
        notifications.send(rt, event, member, notice, key=f"escalation:{event_id}:{member.phone}")
