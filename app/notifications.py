"""Trading Grid events become WhatsApp messages to exactly the people the contract names, each
opening the conversation thread that their answer will land in.

Inside a contact's 24-hour window a message is interactive (buttons); outside it, an approved
template whose quick replies carry the same button ids, so both reach the same handler.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app import delivery, keyspace, outbound, parked, queues, runtime, template_status
from app.reach import owners, reachable_among, waking_moment, windows_open
from app.directory import Contact, Partner, Staff
from app.events import types
from app.events.types import (AlertBroadcast, CaseAssigned, CaseClosed, CaseHeld, CommentAdded, DocumentRequested,
                              DocumentUploaded, Event, ExceptionLogged, HandOff, MilestoneReached,
                              OnboardingCompleted, OnboardingPending, ScheduleRevised)
from app.runtime import Runtime
from app.tradinggrid import cases as grid_cases
from app.whatsapp import messages
from conversations import case_people, closing, identity, say, threads
from conversations.flows import acks, comment, exception, relay, schedule
from conversations.turn import offer, tap_id

log = logging.getLogger(__name__)
Person = Contact | Staff


@dataclasses.dataclass
class Notice:
    """What one person is sent for one event, and the thread it opens (if any). `params` fill the
    approved template (templates.yaml) used when the person's 24-hour window is closed."""

    body: str
    actions: list[str]
    params: dict[str, str]
    thread: threads.Thread | None = None
    template: str = ""  # which template: the event type unless said otherwise


FANOUT_ABOVE = 20      # recipients: more than this and the event fans out as jobs
BATCH_SIZE = 100       # recipients a fan-out job sends to
SENDERS_PER_JOB = 4    # concurrent sends within a job (each still waits for its paced moment)
FIRST_BATCHES_ALONE = 4  # a fan-out's first jobs, queued one at a time so that senders start at once;
JOBS_A_TRIP = 200        # the others in round trips of this many commands (about 50 jobs)
ASSIGNMENT_ACK_SECONDS = 30 * 60  # a case assignment not acknowledged by then is escalated


def handle_event(event_id: str) -> None:
    """A job: an accepted Trading Grid event turned into notices, then marked done."""
    rt = runtime.current()
    key = keyspace.event_key(event_id)
    record = rt.redis.hgetall(key)
    if not record or record.get(b"state") != b"pending":
        return
    handle(rt, types.parse(json.loads(record[b"payload"])))
    rt.redis.hset(key, "state", "done")


def handle_events(event_ids: list[str]) -> None:
    """A job: events the webhook accepted together, handled in turn. One that fails is given a
    job of its own (with the retries and the failed list every job has), so it holds up none of
    the others; when even that cannot be queued (Redis away), this job fails and is retried whole,
    the events already done skipped."""
    rt = runtime.current()
    for event_id in event_ids:
        try:
            handle_event(event_id)
        except Exception as exc:  # noqa: BLE001 - judged again by the event's own job
            if queues.passing(exc):
                log.warning("event %s: %s; retried on its own", event_id, type(exc).__name__)
            else:
                log.exception("event %s failed; retried on its own", event_id)
            rt.queues.enqueue(queues.EVENTS, queues.HANDLE_EVENT, event_id)


def send_notices(event_id: str, phones: list[str], waited: bool = False) -> None:
    """A job: one batch of a fanned-out event (a broadcast to many), or the notices that waited for
    their recipients' morning (`waited`: they go now, whatever the clock says)."""
    rt = runtime.current()
    raw = rt.redis.hget(keyspace.event_key(event_id), "payload")
    if raw is None:
        log.error("event %s is gone; %d recipients not told", event_id, len(phones))
        return
    send_to(rt, types.parse(json.loads(raw)), phones, waited)


def handle(rt: Runtime, event: Event) -> None:
    if isinstance(event, OnboardingCompleted):
        _close_onboarding(rt, event)
        return
    if isinstance(event, CaseClosed):
        closing.close(rt, event)
        return
    found = iter(_found(rt, event))
    first = list(itertools.islice(found, FANOUT_ABOVE + 1))
    plan(rt, event)
    if len(first) <= FANOUT_ABOVE:
        send_to(rt, event, [p.phone for p in first])
        return
    _fan_out(rt, event, itertools.chain(first, found))


def _fan_out(rt: Runtime, event: Event, people: Iterator[Person]) -> None:
    """A job for every BATCH_SIZE recipients, each queued as soon as its recipients are found, so
    that the first notices leave while the rest of a 100,000-contact directory is still looked
    through; the broadcast's size is written once all are known (until then /ops shows none)."""
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hset(keyspace.broadcast_key(event.id), "started_at", time.time())
    pipe.expire(keyspace.broadcast_key(event.id), keyspace.STATUS_TTL)
    pipe.zadd(keyspace.BROADCASTS_INDEX, {event.id: time.time()}, nx=True)
    pipe.execute()
    total, jobs = 0, rt.queues.connection.pipeline(transaction=False)
    while batch := [p.phone for p in itertools.islice(people, BATCH_SIZE)]:
        if total < FIRST_BATCHES_ALONE * BATCH_SIZE:  # at once: the senders start while the rest is found
            rt.queues.enqueue(queues.OUTBOUND, send_notices, event.id, batch)
        else:
            rt.queues.enqueue_on(jobs, queues.OUTBOUND, send_notices, event.id, batch)
            if len(jobs) >= JOBS_A_TRIP:
                jobs.execute()
        total += len(batch)
    jobs.execute()
    rt.redis.hset(keyspace.broadcast_key(event.id), "total", total)


# -- what comes later (the jobs are app.reminders') -------------------------------------------
def plan(rt: Runtime, event: Event) -> None:
    """Schedules what an event will need later; called once the event's notices are out."""
    now = time.time()
    if isinstance(event, AlertBroadcast) and event.requires_ack and event.ack_deadline:
        deadline = dt.datetime.fromisoformat(event.ack_deadline.replace("Z", "+00:00")).timestamp()
        rt.queues.enqueue_at(queues.EVENTS, max(deadline, now), queues.ALERT_DEADLINE, event.id,
                             job_id=f"alert-deadline-{event.id}")
    elif isinstance(event, CaseAssigned):
        rt.queues.enqueue_at(queues.EVENTS, now + ASSIGNMENT_ACK_SECONDS, queues.ASSIGNMENT_CHECK, event.id,
                             job_id=f"assignment-check-{event.id}")


def every(event: OnboardingPending) -> float:
    """How often an onboarding step is asked about again."""
    return 3600 * float(event.remind_every_hours or 48)


def plan_onboarding(rt: Runtime, event: OnboardingPending, phone: str, since: float) -> float:
    """The next reminder to `phone`, one interval after `since`, moved out of its quiet hours."""
    person = rt.directory.person(phone)
    at = waking_moment(rt, person, since + every(event)) if person else since + every(event)
    thread_id = acks.thread_id("onboarding", event)
    with threads.locked(rt, phone) as conversation:
        thread = conversation.threads.get(thread_id)
        if thread is None or not thread.open:
            return at
        thread.slots["next_reminder_at"] = int(at)
    rt.queues.enqueue_at(queues.EVENTS, at, queues.REMIND_ONBOARDING, event.id, phone, int(at),
                         job_id=f"onboarding-{event.id}-{phone}-{int(at)}")
    return at


def send_to(rt: Runtime, event: Event, phones: list[str], waited: bool = False) -> None:
    """Sends the event's notice to each of `phones` (a batch of a fan-out, or all of a small event);
    those in their quiet hours get it when these end (a job for each moment of waking)."""
    build = BUILDERS[event.type]
    people = [person for phone in phones if (person := rt.directory.person(phone)) is not None]
    people = people if waited else _awake(rt, event, people)
    windows = windows_open(rt, [p.phone for p in people])
    if len(people) <= 1:
        for person in people:
            _notify(rt, event, person, build(rt, event, person, person.language), windows[person.phone])
        return
    with ThreadPoolExecutor(max_workers=min(SENDERS_PER_JOB, len(people))) as pool:
        for done in [pool.submit(_notify, rt, event, p, build(rt, event, p, p.language), windows[p.phone])
                     for p in people]:
            done.result()


QUIET_SLACK_SECONDS = 60  # a notice due to wake someone within this long goes now


def never_waits(event: Event) -> bool:
    """A critical alert reaches people at any hour; every other notification waits for morning."""
    return isinstance(event, AlertBroadcast) and event.severity == "critical"


def _awake(rt: Runtime, event: Event, people: list[Person]) -> list[Person]:
    """Those of `people` the notice may reach now; the others' notices wait for their morning."""
    if rt.settings.quiet_hours is None or never_waits(event):
        return people
    now = time.time()
    later: dict[int, list[str]] = {}
    awake = []
    for person in people:
        wakes = waking_moment(rt, person, now)
        if wakes - now <= QUIET_SLACK_SECONDS:
            awake.append(person)
        else:
            later.setdefault(int(wakes), []).append(person.phone)
    for moment, phones in later.items():
        log.info("event %s: %d recipient(s) in their quiet hours, told at %d", event.id, len(phones), moment)
        rt.queues.enqueue_at(queues.OUTBOUND, moment, queues.SEND_NOTICES, event.id, phones, True,
                             job_id=f"quiet-{event.id}-{moment}-{keyspace.digest(','.join(phones))}")
    return awake


def _notify(rt: Runtime, event: Event, person: Person, notice: Notice, window: bool) -> None:
    """A first notice: sent, then what it will need later planned (an onboarding reminder)."""
    send(rt, event, person, notice, window=window)
    if isinstance(event, OnboardingPending) and notice.thread is not None:
        plan_onboarding(rt, event, person.phone, since=time.time())


def progress(rt: Runtime, event_id: str) -> dict[str, Any]:
    """A broadcast's size and how far it got: sent, delivered, read, failed."""
    total = rt.redis.hget(keyspace.broadcast_key(event_id), "total")
    return {"total": int(total) if total else None, **delivery.stats(rt, f"event:{event_id}")}


# -- who is told -----------------------------------------------------------------------------
def reachable(rt: Runtime, person: Person) -> bool:
    """Opted in (partner contacts) and not stopped: the only people a business message may reach."""
    return bool(reachable_among(rt, [person]))


def _partner_contacts(rt: Runtime, event: ExceptionLogged | ScheduleRevised | DocumentRequested | OnboardingPending,
                      role: str) -> list[Person]:
    partner = rt.directory.partners.get(event.partner_id)
    if partner is None:
        log.warning("event %s names unknown partner %s; nobody told", event.id, event.partner_id)
        return []
    with_role = [c for c in partner.contacts if role in c.roles]  # "if none has it": held, not reachable
    return reachable_among(rt, list(with_role or partner.contacts))


def _staff(rt: Runtime, *ids: str | None) -> list[Person]:
    return reachable_among(rt, [rt.directory.staff[i] for i in ids if i and i in rt.directory.staff])


def _group(rt: Runtime, group_id: str | None) -> list[Person]:
    return reachable_among(rt, list(rt.directory.group_members(group_id or "")))


def _found(rt: Runtime, event: Event) -> Iterable[Person]:
    """`recipients`, an alert's found as the directory is looked through (see `_fan_out`)."""
    if isinstance(event, AlertBroadcast):
        return (person for person, reason in verdicts(rt, event) if reason is None)
    return recipients(rt, event)


def explain_alert(rt: Runtime, event: AlertBroadcast) -> list[tuple[Contact, str | None]]:
    """Every partner contact, and why it would not get the alert (None: it would). All given
    targeting keys must match; any value within a key matches; case does not matter."""
    return list(verdicts(rt, event))


def verdicts(rt: Runtime, event: AlertBroadcast) -> Iterator[tuple[Contact, str | None]]:
    """`explain_alert`, partner by partner, as the directory is looked through."""
    targeting = event.targeting.given()

    def wanted(key: str) -> set[str] | None:
        values = targeting.get(key)
        return {v.lower() for v in values} if values else None

    partner_ids, regions, lines = wanted("partner_ids"), wanted("regions"), wanted("product_lines")
    roles, issue_types = wanted("roles"), wanted("issue_types")
    stopped = _stopped(rt)
    for partner in rt.directory.partners.values():
        reason = None
        if partner_ids is not None and partner.id.lower() not in partner_ids:
            reason = f"partner {partner.id} is not in partner_ids"
        elif regions is not None and partner.region.lower() not in regions:
            reason = f"region {partner.region or '(none)'} is not in regions"
        elif lines is not None and not lines & {p.lower() for p in partner.product_lines}:
            reason = "no product line in product_lines"
        elif issue_types is not None and not _has_open_case_of(rt, partner, issue_types):
            reason = "no open case of those issue_types"
        for contact in partner.contacts:
            contact_reason = reason
            if contact_reason is None and roles is not None and not roles & set(contact.roles):
                contact_reason = "no role in roles"
            if contact_reason is None and not contact.opt_in:
                contact_reason = "has not opted in"
            if contact_reason is None and contact.phone in stopped:
                contact_reason = "sent STOP"
            yield contact, contact_reason


def _stopped(rt: Runtime) -> set[str]:
    """Everyone who sent STOP, read whole: one answer bounded by who ever wrote STOP, where asking
    after each contact of a large directory was a fifth of a broadcast's start."""
    return {phone.decode() for phone in rt.redis.smembers(keyspace.OPTED_OUT)}


def _has_open_case_of(rt: Runtime, partner: Partner, issue_types: set[str]) -> bool:
    return any(c.issue_type in issue_types for c in grid_cases.listed(rt.tradinggrid, partner_id=partner.id, status="open"))


def recipients(rt: Runtime, event: Event) -> list[Person]:
    if isinstance(event, ExceptionLogged):
        people = _partner_contacts(rt, event, "exceptions") if event.notify in ("partner", "both") else []
        return people + (_group(rt, "support") if event.notify in ("internal", "both") else [])
    if isinstance(event, ScheduleRevised):
        return _partner_contacts(rt, event, "exceptions")
    if isinstance(event, DocumentUploaded):
        return _staff(rt, event.approver_id)
    if isinstance(event, DocumentRequested):
        return _partner_contacts(rt, event, "documents")
    if isinstance(event, MilestoneReached):
        partner = rt.directory.partners.get(event.partner_id)
        return reachable_among(rt, [c for c in (partner.contacts if partner else ()) if event.milestone in c.milestones])
    if isinstance(event, AlertBroadcast):
        return list(_found(rt, event))
    if isinstance(event, OnboardingPending):
        return _partner_contacts(rt, event, "onboarding")
    if isinstance(event, CaseAssigned):
        assignee = _staff(rt, event.assignee_id)
        group = [s for s in _group(rt, event.escalation_group_id) if s not in assignee]
        return assignee + group
    if isinstance(event, CommentAdded):
        return _comment_readers(rt, event)
    if isinstance(event, CaseHeld):
        return list(reachable_among(rt, case_people.in_thread(rt, event.partner_id, event.case_id)))
    if isinstance(event, HandOff):  # the owner, else (not known, or not reachable) the support group
        return reachable_among(rt, owners(rt, event.case_id)) or _group(rt, "support")
    return []


def _comment_readers(rt: Runtime, event: CommentAdded) -> list[Person]:
    """`partner`: the partner contacts in the case's thread (else role exceptions), never the
    author. `internal`: only the staff member it names (`notify_staff_id`), else the case's
    assignee: never a partner."""
    author = event.author
    if event.visibility == "internal":
        staff_id = event.notify_staff_id
        if not staff_id:
            case = grid_cases.read(rt.tradinggrid, event.case_id)
            staff_id = case.assignee_id if case is not None else None
        return [s for s in _staff(rt, staff_id) if not (author.kind == "staff" and s.id == author.id)]
    writer = rt.directory.person(author.id) if author.kind == "partner_contact" else None
    return list(reachable_among(rt, case_people.in_thread(rt, event.partner_id, event.case_id,
                                                          writer.phone if writer else author.id)))


# -- what they are sent ----------------------------------------------------------------------
def _exception(rt: Runtime, event: ExceptionLogged, person: Person, lang: str) -> Notice:
    wanted = {"shipment_delay": "wanted_date", "invoice_mismatch": "wanted_reference",
              "order_exception": "wanted_reference"}.get(event.issue_type, "wanted_any")
    issue = say.issue(lang, event.issue_type).capitalize()
    body = say.text(lang, "exception_ask", issue=issue, reference=event.reference, summary=event.summary,
                    wanted=say.text(lang, wanted)) + f"\n{event.thread_url}"
    params = {"issue": issue, "reference": event.reference, "summary": event.summary, "url": event.thread_url}
    if isinstance(person, Staff):  # the support group is told; partners answer
        return Notice(body, [], params)
    action = "new_date" if event.issue_type == "shipment_delay" else "add_reference"
    return Notice(body, [action], params, exception.opening(event))


def _schedule(rt: Runtime, event: ScheduleRevised, person: Person, lang: str) -> Notice:
    previous = (say.text(lang, "schedule_previous", date=say.date(event.previous_date, lang))
                if event.previous_date else "")
    body = say.text(lang, "schedule_ask", reference=event.reference, proposed=say.date(event.proposed_date, lang),
                    previous=previous) + f"\n{event.thread_url}"
    return Notice(body, ["accept", "reject", "new_date"],
                  {"reference": event.reference, "proposed": say.date(event.proposed_date, lang) + previous,
                   "url": event.thread_url}, schedule.opening(event))


def _alert(rt: Runtime, event: AlertBroadcast, person: Person, lang: str) -> Notice:
    body = say.text(lang, "alert_ask", severity=event.severity.upper(), title=event.title, message=event.message)
    params = {"severity": event.severity.upper(), "title": event.title, "message": event.message}
    if not event.requires_ack:
        return Notice(body, [], params)
    return Notice(body, ["acknowledge"], params, acks.opening("alert", event))


def _assignment(rt: Runtime, event: CaseAssigned, person: Person, lang: str) -> Notice:
    body = say.text(lang, "assignment_ask", case_id=event.case_id, summary=event.summary, url=event.thread_url)
    params = {"case_id": event.case_id, "summary": event.summary, "url": event.thread_url}
    if person.phone != getattr(rt.directory.staff.get(event.assignee_id), "phone", None):
        return Notice(body, [], params)  # the escalation group is told; the assignee answers
    return Notice(body, ["acknowledge"], params, acks.opening("assignment", event))


def _document_uploaded(rt: Runtime, event: DocumentUploaded, person: Person, lang: str) -> Notice:
    kind = say.term(lang, "document_types", event.document_type)
    body = say.text(lang, "document_uploaded_ask", document_type=kind, document_name=event.document_name,
                    url=event.url)
    return Notice(body, ["received"], {"document_type": kind, "document_name": event.document_name,
                                       "url": event.url},
                  acks.opening("document", event))


def _document_requested(rt: Runtime, event: DocumentRequested, person: Person, lang: str) -> Notice:
    kind = say.term(lang, "document_types", event.document_type)
    due = say.text(lang, "due", date=say.date(event.due_date, lang)) if event.due_date else ""
    body = say.text(lang, "document_requested_ask", document_type=kind, due=due, url=event.url)
    return Notice(body, ["done"], {"document_type": kind, "due": due, "url": event.url},
                  acks.opening("document_request", event))


def _milestone(rt: Runtime, event: MilestoneReached, person: Person, lang: str) -> Notice:
    milestone = say.term(lang, "milestones", event.milestone)
    parts = [f"{event.order_ref}: {milestone}.", event.details or "", event.url or ""]
    return Notice(" ".join(p for p in parts if p), [], {"order_ref": event.order_ref, "milestone": milestone,
                                                        "details": event.details or ""})


def _onboarding(rt: Runtime, event: OnboardingPending, person: Person, lang: str) -> Notice:
    action = say.term(lang, "onboarding_actions", event.action)
    due = say.text(lang, "due", date=say.date(event.due_date, lang)) if event.due_date else ""
    body = say.text(lang, "onboarding_ask", action=action, due=due, url=event.url)
    return Notice(body, ["done", "remind"], {"action": action, "due": due, "url": event.url},
                  acks.opening("onboarding", event))


def _comment(rt: Runtime, event: CommentAdded, person: Person, lang: str) -> Notice:
    author = event.author
    writer = rt.directory.staff.get(author.id) if author.kind == "staff" else rt.directory.person(author.id)
    signed = case_people.signature(rt, writer, author.name)
    params = {"author": signed, "case_id": event.case_id, "body": event.body, "url": event.thread_url}
    if isinstance(person, Contact):  # a partner answers in a comment thread; staff answer through their relay
        return Notice(say.text(lang, "comment_partner", **params), [], params, comment.opening(event))
    said = say.text(lang, "comment_answered" if isinstance(writer, Contact) else "comment_internal", **params)
    return Notice(said, [], params, relay.opening(event.case_id, event.partner_id, event.thread_url))


def _handoff(rt: Runtime, event: HandOff, person: Person, lang: str) -> Notice:
    partner = rt.directory.person(event.phone)
    name = partner.name if partner else f"+{event.phone}"
    company = rt.directory.partners[partner.partner_id].name if isinstance(partner, Contact) else ""
    said = " / ".join(f'"{m}"' for m in event.messages)
    case_id = event.case_id or say.text(lang, "no_case")
    body = say.text(lang, "handoff_owner", name=name, partner=company, case_id=case_id, messages=said)
    params = {"name": name, "partner": company, "case_id": case_id, "messages": said}
    thread = (relay.opening(event.case_id, event.partner_id, event.thread_url) if event.case_id
              else relay.to_contact(event.phone))
    return Notice(body, [], params, thread)


def _held(rt: Runtime, event: CaseHeld, person: Person, lang: str) -> Notice:
    staff = rt.directory.staff.get(event.staff_id)
    signed = case_people.signature(rt, staff, event.staff_id)
    body = say.text(lang, "held_taken" if event.held else "held_released", name=signed, case_id=event.case_id)
    return Notice(body, [], {"author": signed, "case_id": event.case_id, "body": body, "url": event.thread_url},
                  template="comment.added")


BUILDERS: dict[str, Callable[..., Notice]] = {  # each takes its own event type
    "exception.logged": _exception, "schedule.revised": _schedule, "alert.broadcast": _alert,
    "case.assigned": _assignment, "document.uploaded": _document_uploaded,
    "document.requested": _document_requested, "milestone.reached": _milestone, "onboarding.pending": _onboarding,
    "comment.added": _comment, "handoff": _handoff, "case.held": _held,
}


# -- sending -----------------------------------------------------------------------------------
class TemplateBarred(Exception):
    """The window is closed and the notice's template may not be sent (Meta paused or disabled it)."""

    def __init__(self, reason: str, template: dict[str, Any]) -> None:
        super().__init__(reason)
        self.template = template  # what to send once Meta allows it again (the parked list retries it)


def payloads(rt: Runtime, event: Event, person: Person, notice: Notice,
             window: bool | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What to send, and what to send instead if Meta says the window closed after all (not a
    template Meta has paused or disabled: TemplateBarred when that is all that could go)."""
    ids = [tap_id(a, notice.thread.id) for a in notice.actions] if notice.thread else []
    approved = rt.templates.by_notice[notice.template or event.type]
    code = rt.templates.language_code(person.language)
    to = identity.address(rt, person.phone)  # a user id where Meta last named them only by it
    template = messages.template(to, approved.name, code,
                                 [notice.params.get(p, "") for p in approved.parameters], ids[:approved.quick_replies])
    barred = template_status.unusable(rt.redis, approved.name, code)
    if not (window if window is not None else windows_open(rt, [person.phone])[person.phone]):
        if barred:
            raise TemplateBarred(f"{barred}, and the 24-hour window is closed", template)
        return template, None
    fallback = None if barred else template
    if ids:
        choices = [(i, say.button(person.language, a)) for i, a in zip(ids, notice.actions)]
        return messages.buttons(to, notice.body, choices), fallback
    return messages.text(to, notice.body), fallback


def send(rt: Runtime, event: Event, person: Person, notice: Notice, key: str | None = None,
         window: bool | None = None) -> str | None:
    """Sends one notice (opening or refreshing its thread); returns the wamid when it left."""
    key = key or f"event:{event.id}:{person.phone}"
    try:
        payload, fallback = payloads(rt, event, person, notice, window)
    except TemplateBarred as exc:
        log.warning("notice %s not sent: %s", key, exc)
        delivery.count_refused(rt, key)
        parked.park(rt.redis, "send", str(exc), {"payload": exc.template, "key": key},
                    item_id=f"barred-{keyspace.digest(key)}")
        return None
    if notice.thread is None:
        return outbound.deliver(rt, payload, key, fallback)
    offer(notice.thread, notice.actions)
    with threads.locked(rt, person.phone) as conversation:
        existing = conversation.threads.get(notice.thread.id)
        if existing is None or not existing.open:
            conversation.threads[notice.thread.id] = notice.thread
        else:
            existing.slots.update(notice.thread.slots)  # a newer event about the same subject
            existing.state = notice.thread.state
            existing.updated_at = time.time()
        wamid = outbound.deliver(rt, payload, key, fallback)
        if wamid:
            conversation.remember(wamid, notice.thread.id)
    return wamid


def _close_onboarding(rt: Runtime, event: OnboardingCompleted) -> None:
    partner = rt.directory.partners.get(event.partner_id)
    thread_id = acks.thread_id("onboarding", event)
    for contact in partner.contacts if partner else ():
        with threads.locked(rt, contact.phone) as conversation:
            thread = conversation.threads.get(thread_id)
            if thread is not None and thread.open:
                thread.state = "done"
                thread.updated_at = time.time()
