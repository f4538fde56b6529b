"""One message being answered: who wrote, what they meant, the thread it belongs to, and the
ways to reply and to write to Trading Grid, each exactly once however often the turn is replayed."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from app import alarms, ingest, localtime, outbound, queues, writes
from app.directory import Contact, Staff
from app.runtime import Runtime
from app.tradinggrid.port import Record, TradingGrid
from app.whatsapp import errors, messages
from app.tradinggrid.bodies import Author, Body, NewAcknowledgment, NewComment
from app.whatsapp.inbound import InboundMessage
from conversations import say
from conversations.threads import Conversation, Thread
from intents import Reading, understand

log = logging.getLogger(__name__)
TAP_PREFIX = "t"
OFFERED = "offered"  # in a thread's slots: the actions of the buttons its latest message offers
BUTTON_ACTIONS = frozenset({"confirm", "change", "cancel", "accept", "reject", "new_date", "acknowledge", "received",
                            "done", "remind", "add_reference"})


def tap_id(action: str, thread_id: str) -> str:
    """The id of a button or row: what it does and to which thread ("t|confirm|case:CASE-1042")."""
    return f"{TAP_PREFIX}|{action}|{thread_id}"


def offer(thread: Thread, actions: Sequence[str]) -> None:
    """Notes the buttons a thread's latest message offers: a tap is taken only if its action was
    offered (a button id is input like any other, and can be old or forged)."""
    thread.slots[OFFERED] = list(actions)


def offered(thread: Thread) -> frozenset[str]:
    """The actions a tap on this thread may carry: those last offered, or for a thread saved
    before offers were noted, any a button ever carries."""
    return frozenset(thread.slots[OFFERED]) if OFFERED in thread.slots else BUTTON_ACTIONS


def parse_tap(reply_id: str | None) -> tuple[str, str] | None:
    parts = (reply_id or "").split("|", 2)
    if len(parts) == 3 and parts[0] == TAP_PREFIX:
        return parts[1], parts[2]
    return None


TYPING_AFTER_SECONDS = 1.0
P = ParamSpec("P")
R = TypeVar("R")


@dataclasses.dataclass
class Turn:
    rt: Runtime
    conversation: Conversation
    person: Contact | Staff
    message: InboundMessage
    reading: Reading
    language: str
    thread: Thread | None = None
    action: str | None = None  # what a tapped button or row said to do
    replies: int = 0
    wrote: bool = False
    event_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)  # what the trigger carries
    key_base: str = ""  # what replies and writes are keyed by; the message id unless replayed
    late_since: int | None = None  # when a message that arrived after a newer one was written
    typing_shown: bool = False  # the person was shown "typing…" while Trading Grid took its time

    def __post_init__(self) -> None:
        self.key_base = self.key_base or self.message.id

    @property
    def here(self) -> Thread:
        """The thread this turn is in: a flow's callbacks only ever run in one."""
        if self.thread is None:
            raise RuntimeError(f"message {self.message.id} is in no thread")
        return self.thread

    @property
    def first_name(self) -> str:
        return self.person.name.split()[0] if self.person.name.strip() else self.person.name

    @property
    def text(self) -> str:
        return (self.message.text or "").strip()

    def say(self, key: str, **params: Any) -> str:
        return say.text(self.language, key, **params)

    def date(self, value: str | None) -> str:
        return say.date(value, self.language)

    def say_issue(self, issue_type: str) -> str:
        return say.issue(self.language, issue_type)

    # -- replies ---------------------------------------------------------------------------
    @property
    def _quote(self) -> str | None:
        """The first reply of a turn quotes the message it answers; the rest follow it."""
        return self.message.id if self.replies == 0 else None

    def reply(self, body: str) -> None:
        self._deliver(messages.text(self.message.sender, body, reply_to=self._quote))

    def ask(self, body: str, actions: Sequence[str]) -> None:
        """A question with reply buttons, each naming its action and this turn's thread."""
        assert self.thread is not None
        offer(self.thread, actions)
        choices = [(tap_id(a, self.thread.id), say.button(self.language, a)) for a in actions]
        self._deliver(messages.buttons(self.message.sender, body, choices, reply_to=self._quote))

    def form(self, body: str, flow_id: str, cta: str, screen: str, data: dict[str, Any]) -> None:
        """A WhatsApp Flow for this turn's thread; its answer (nfm_reply) quotes it, so it comes back here."""
        self._deliver(messages.flow(self.message.sender, body, flow_id, cta, self.here.id, screen, data,
                                    reply_to=self._quote))

    def choose(self, body: str, button: str, rows: Sequence[tuple[str, str, str | None]]) -> None:
        self._deliver(messages.choice_list(self.message.sender, body, button, [("", rows)], reply_to=self._quote))

    def _deliver(self, payload: dict[str, Any]) -> None:
        # Sent now or not at all: a send Meta refuses for now fails the turn, which is retried from
        # where it was, so the person's answers never overtake each other.
        wamid = outbound.send_now(self.rt, payload, f"{self.key_base}:reply:{self.replies}")
        self.replies += 1
        if wamid and self.thread is not None:
            self.conversation.remember(wamid, self.thread.id)

    # -- Trading Grid ----------------------------------------------------------------------
    def author(self) -> Author:
        kind = "staff" if isinstance(self.person, Staff) else "partner_contact"
        ident = self.person.id if isinstance(self.person, Staff) else self.person.phone
        return Author(kind, ident, self.person.name, f"+{self.person.phone}")

    def announce(self, kind: str, suffix: str, **fields: Any) -> None:
        """An event of tgwa's own that this message makes (app.notifications sends it on), keyed by
        this turn so a replayed turn announces it once."""
        ingest.record_own_event(self.rt, f"wa:{self.key_base}:{suffix}", kind, self.message.timestamp, **fields)

    def responded_at(self) -> str:
        moment = dt.datetime.fromtimestamp(self.message.timestamp, dt.timezone.utc)
        return moment.isoformat().replace("+00:00", "Z")

    def write(self, body: Body, action: str) -> Record | str | None:
        """One Trading Grid write keyed by this message and `action` (app.writes): its answer,
        PENDING when a job will retry it, or None when Trading Grid refused it (parked, and the
        person told in this turn's reply)."""
        self.wrote = True
        with self.typing():
            return writes.land(self.rt, writes.Write(body, f"{self.key_base}:{action}", self.message.sender),
                               tell=self.reply)

    def ask_grid(self, question: Callable[Concatenate[TradingGrid, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """A question to Trading Grid (`question` takes the port first), while the person may be
        shown "typing…"."""
        with self.typing():
            return question(self.rt.tradinggrid, *args, **kwargs)

    @contextlib.contextmanager
    def typing(self) -> Iterator[None]:
        """Should Trading Grid take more than TYPING_AFTER_SECONDS, the person sees "typing…", as
        from someone about to answer (once a turn; Meta shows it until the reply, or 25 s)."""
        if self.typing_shown:
            yield
            return
        alarm = alarms.after(TYPING_AFTER_SECONDS, self._show_typing)
        try:
            yield
        finally:
            alarm.cancel()

    def _show_typing(self) -> None:
        try:
            self.rt.whatsapp.typing(self.message.id)
            self.typing_shown = True
        except errors.GraphError as exc:  # a courtesy, like blue ticks: never in the answer's way
            log.info("could not show typing for %s: %s", self.message.id, exc)

    def schedule(self, at: float, job: str, *args: Any, job_id: str) -> None:
        """Work for later (a reminder), by its dotted path (app.queues); the same `job_id` is one job."""
        self.rt.queues.enqueue_at(queues.EVENTS, at, job, *args, job_id=job_id)

    def comment(self, case_id: str, body: str, action: str = "comment") -> Record | str | None:
        """The partner's own words on the case, signed with their name."""
        return self.write(NewComment(case_id, body, self.author(), self.message.id), action)

    def acknowledge(self, subject_type: str, subject_id: str, response: str) -> Record | str | None:
        return self.write(NewAcknowledgment(subject_type, subject_id, response, self.author(), self.responded_at(),
                                            self.message.id, self.text or response), f"ack:{subject_type}")


def for_message(rt: Runtime, conversation: Conversation, person: Contact | Staff, message: InboundMessage,
                thread: Thread | None = None) -> Turn:
    """The turn that answers `message`: what it says read in the light of who wrote it and where."""
    country = rt.directory.partners[person.partner_id].country if isinstance(person, Contact) else None
    reading = understand(message.text or "", today=localtime.local_date(person.phone, message.timestamp),
                         country=country or localtime.country(person.phone), language=person.language)
    return Turn(rt, conversation, person, message, reading, person.language, thread=thread)
