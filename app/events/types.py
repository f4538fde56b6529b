"""Trading Grid events, typed: one frozen class per event type, with the fields the schema
(app.events.schema) gives it. An event is checked against the schema at the webhook, stored as
the JSON it came as, and parsed into its class once wherever it is used (`parse`); nothing behind
the edge reads an event's dict."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar


@dataclasses.dataclass(frozen=True, kw_only=True)
class BaseEvent:
    TYPE: ClassVar[str] = ""
    id: str
    occurred_at: str

    @property
    def type(self) -> str:
        return self.TYPE


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExceptionLogged(BaseEvent):
    TYPE: ClassVar[str] = "exception.logged"
    case_id: str
    partner_id: str
    issue_type: str
    reference: str
    summary: str
    thread_url: str
    expected_date: str | None = None
    notify: str = "partner"  # partner, internal or both


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScheduleRevised(BaseEvent):
    TYPE: ClassVar[str] = "schedule.revised"
    case_id: str
    partner_id: str
    reference: str
    proposed_date: str
    thread_url: str
    previous_date: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class DocumentUploaded(BaseEvent):
    TYPE: ClassVar[str] = "document.uploaded"
    document_id: str
    partner_id: str
    document_type: str
    document_name: str
    approver_id: str
    url: str
    case_id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class DocumentRequested(BaseEvent):
    TYPE: ClassVar[str] = "document.requested"
    partner_id: str
    document_type: str
    url: str
    due_date: str | None = None
    case_id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class MilestoneReached(BaseEvent):
    TYPE: ClassVar[str] = "milestone.reached"
    partner_id: str
    order_ref: str
    milestone: str
    details: str | None = None
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class Targeting:
    """Which partner contacts an alert is for: every given key must match, any value within it."""

    partner_ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    product_lines: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    issue_types: tuple[str, ...] = ()

    def given(self) -> dict[str, tuple[str, ...]]:
        """The keys the alert names, with their values."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlertBroadcast(BaseEvent):
    TYPE: ClassVar[str] = "alert.broadcast"
    alert_id: str
    category: str
    severity: str
    title: str
    message: str
    targeting: Targeting
    requires_ack: bool
    ack_deadline: str | None = None
    owner_id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class OnboardingPending(BaseEvent):
    TYPE: ClassVar[str] = "onboarding.pending"
    partner_id: str
    action: str
    url: str
    due_date: str | None = None
    remind_every_hours: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class OnboardingCompleted(BaseEvent):
    TYPE: ClassVar[str] = "onboarding.completed"
    partner_id: str
    action: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CaseAssigned(BaseEvent):
    TYPE: ClassVar[str] = "case.assigned"
    case_id: str
    assignee_id: str
    summary: str
    thread_url: str
    previous_assignee_id: str | None = None
    escalation_group_id: str | None = None
    priority: str | None = None
    reference: str | None = None


@dataclasses.dataclass(frozen=True)
class CommentAuthor:
    """Who wrote a comment: a staff member (by id) or a partner contact (by phone)."""

    kind: str  # staff or partner_contact
    id: str
    name: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommentAdded(BaseEvent):
    TYPE: ClassVar[str] = "comment.added"
    case_id: str
    partner_id: str
    comment_id: str
    body: str
    author: CommentAuthor
    visibility: str  # partner or internal
    thread_url: str
    notify_staff_id: str | None = None  # internal: this staff member rather than the case's assignee


@dataclasses.dataclass(frozen=True, kw_only=True)
class CaseClosed(BaseEvent):
    TYPE: ClassVar[str] = "case.closed"
    case_id: str
    partner_id: str
    thread_url: str
    resolution: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class HandOff(BaseEvent):
    """tgwa's own, never Trading Grid's (the webhook's schema does not take it): a partner the bot
    could not understand three times needs a person; the case's owner (else support) is told."""

    TYPE: ClassVar[str] = "handoff"
    phone: str              # the partner contact
    messages: tuple[str, ...]
    case_id: str | None = None
    partner_id: str = ""
    thread_url: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class CaseHeld(BaseEvent):
    """tgwa's own: a staff member took a case's conversation over (`held`) or handed it back;
    the partner contacts in its thread are told."""

    TYPE: ClassVar[str] = "case.held"
    case_id: str
    partner_id: str
    staff_id: str
    held: bool
    thread_url: str = ""


Event = (ExceptionLogged | ScheduleRevised | DocumentUploaded | DocumentRequested | MilestoneReached | AlertBroadcast
         | OnboardingPending | OnboardingCompleted | CaseAssigned | CommentAdded | CaseClosed | HandOff
         | CaseHeld)
BY_TYPE: dict[str, type[Event]] = {cls.TYPE: cls for cls in (
    ExceptionLogged, ScheduleRevised, DocumentUploaded, DocumentRequested, MilestoneReached, AlertBroadcast,
    OnboardingPending, OnboardingCompleted, CaseAssigned, CommentAdded, CaseClosed, HandOff, CaseHeld)}
OWN_TYPES = frozenset({HandOff.TYPE, CaseHeld.TYPE})  # events tgwa makes itself: the webhook's schema never takes them


def parse(payload: dict[str, Any]) -> Event:
    """The typed event of a payload the schema accepted (fields it does not know are left out)."""
    cls = BY_TYPE[str(payload["type"])]
    names = {f.name for f in dataclasses.fields(cls)}
    fields = {k: v for k, v in payload.items() if k in names and v is not None}
    if cls is AlertBroadcast:
        fields["targeting"] = Targeting(**{k: tuple(v) for k, v in (payload.get("targeting") or {}).items()
                                           if k in {f.name for f in dataclasses.fields(Targeting)}})
    if cls is HandOff:
        fields["messages"] = tuple(str(m) for m in payload.get("messages") or ())
    if cls is CommentAdded:
        author = payload["author"]
        fields["author"] = CommentAuthor(str(author["kind"]), str(author["id"]), str(author["name"]))
    return cls(**fields)
