"""Where an inbound message goes, in order: system notices and unknown numbers; taps (the thread
and action are in the button id); STOP, START and HELP; questions about cases; then the thread
it answers (the message it replies to, the only open thread, a reference it names, the one
thread waiting for that kind of answer), else a list asking which; a partner's new problem;
and after three messages in a row that cannot be placed, a person takes over.

Meta delivers out of order. A message older than one already answered is handled in the light
of what came after: a question (status, my cases, help) is answered, and so is an answer to a
thread nothing has changed since it was written; one that newer messages overtook (its thread
moved on, a later STOP or START, a thread to choose) is not acted on, and the person is told."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Literal

from app import keyspace, outbound
from app.directory import Contact, Staff
from app.runtime import Runtime
from app.whatsapp import errors, messages
from app.whatsapp.inbound import InboundMessage
from app.tradinggrid import cases
from app.tradinggrid.bodies import NewTask
from conversations import holding, identity, media, queries, replies, say, threads, waits
from conversations.flows import problem, relay
from conversations.flows.catalog import FLOWS
from conversations.turn import OFFERED, Turn, for_message, offered, parse_tap, tap_id
from intents import references

log = logging.getLogger(__name__)
# Nothing a person expects an answer to: reactions (but those that acknowledge, below), revoked
# or edited messages, orders we do not take, and notices about the account itself.
SILENT_TYPES = frozenset({"reaction", "revoke", "edit", "order", "system", "request_welcome"})
# A reaction that says "seen, OK" to a message asking for an acknowledgment is that acknowledgment.
ACK_REACTIONS = frozenset({"👍", "✅", "👌"})
_EMOJI_MODIFIERS = dict.fromkeys([0xFE0F, *range(0x1F3FB, 0x1F400)])  # variation selector, skin tones
UNPLACED_LIMIT = 3
RECENT_KEPT = 5


@dataclasses.dataclass(frozen=True)
class Ahead:
    """What the drain read of its contact in the round trip that took the message (`read_ahead`),
    so that answering it costs no trip of its own: the stored conversation and ids."""

    contact: str
    conversation: bytes | None
    ids: bytes | None

    def of(self, phone: str, value: bytes | None) -> bytes | None | Literal[False]:
        """`value` when it is `phone`'s (the contact is a directory phone), else False: read it."""
        return value if phone == self.contact else False


def read_ahead(pipe: Any, contact: str) -> Callable[[list[Any]], Ahead]:
    """Queues on `pipe` the reading of what answering the contact's message needs; returns what
    makes an Ahead of the two answers."""
    threads.read(pipe, contact)
    identity.read(pipe, contact)
    return lambda answers: Ahead(contact, answers[0], answers[1])


def handle(rt: Runtime, message: InboundMessage, ahead: Ahead | None = None) -> bool:
    """Answers `message`; True when it is one its sender expects to see read (the caller marks
    it so, with `mark_read`, once the answer is out: once for several, as Meta marks the ones
    before it too)."""
    if message.type == "system":
        change = (message.system or {}).get("type")
        if change == "user_changed_number":
            identity.apply_number_change(rt, message)
        elif change == "user_changed_user_id":
            identity.apply_user_id_change(rt, message)
        return False
    if message.type == "reaction":
        _reacted(rt, message, ahead)
        return False
    if message.type == "edit":
        _edited(rt, message, ahead)
        return False
    if message.type in SILENT_TYPES:
        return False
    _answer(rt, message, ahead)
    return True


def _load(rt: Runtime, person: Contact | Staff, ahead: Ahead | None) -> threads.Conversation:
    """The person's conversation (one a person, however Meta names them), as read ahead if it was."""
    return threads.load(rt, person.phone, ahead.of(person.phone, ahead.conversation) if ahead else False)


def _answer(rt: Runtime, message: InboundMessage, ahead: Ahead | None) -> None:
    person = identity.person(rt, message.sender)
    if person is None:
        outbound.send_now(rt, messages.text(message.sender, say.text("en", "unknown_number"), reply_to=message.id),
                          f"{message.id}:reply:0")
        return
    identity.note(rt, message, person, ahead.of(person.phone, ahead.ids) if ahead else False)
    conversation = _load(rt, person, ahead)
    late = message.timestamp < conversation.session.get("last_ts", 0)
    conversation.session["last_ts"] = max(message.timestamp, conversation.session.get("last_ts", 0))
    turn = for_message(rt, conversation, person, message)
    if late:  # Meta delivered it after a newer one that is already answered (see `overtaken`)
        log.info("message %s is older than one already answered", message.id)
        turn.late_since = message.timestamp
    waits.tell(turn)  # a confirmation that ran out while they were away: first things first
    if message.media is not None:
        media.received(turn)
    else:
        dispatch(turn)
    threads.save(rt, conversation)  # not when the turn failed: its retry starts from the same state


def _reacted(rt: Runtime, message: InboundMessage, ahead: Ahead | None) -> None:
    """👍 ✅ 👌 on a message whose thread waits for an acknowledgment acknowledges it, and is said
    back as a tap would be; any other reaction, or one on anything else, is left alone."""
    reaction = message.reaction or {}
    emoji = str(reaction.get("emoji") or "").translate(_EMOJI_MODIFIERS)
    person = identity.person(rt, message.sender) if emoji in ACK_REACTIONS else None
    if person is None:
        return
    conversation = _load(rt, person, ahead)
    thread_id = conversation.thread_of(str(reaction.get("message_id") or ""))
    thread = conversation.threads.get(thread_id or "")
    if thread is None or not thread.open or "acknowledge" not in offered(thread):
        return
    turn = for_message(rt, conversation, person, message)
    turn.thread, turn.action = thread, "acknowledge"
    _run(turn)
    threads.save(rt, conversation)


def _edited(rt: Runtime, message: InboundMessage, ahead: Ahead | None) -> None:
    """An edited message whose thread still waits for a confirmation is read again, as a
    correction, and said back; an edit of anything already settled is left alone."""
    person = identity.person(rt, message.sender) if message.text else None
    if person is None:
        return
    conversation = _load(rt, person, ahead)
    thread = conversation.threads.get(conversation.thread_of(message.edits or "") or "")
    if thread is None or not thread.open or not FLOWS[thread.flow].awaits(thread, "confirm"):
        return
    turn = for_message(rt, conversation, person, message._replace(type="text"), thread)
    turn.thread = thread
    _run(turn)
    threads.save(rt, conversation)


def dispatch(turn: Turn) -> None:
    tap = parse_tap(turn.message.reply_id)
    if tap is not None:
        _tapped(turn, *tap)
        return
    if turn.message.reply_id and turn.message.reply_id.startswith("q|case|"):
        queries.show(turn, turn.message.reply_id.split("|", 2)[2])
        return
    reply = replies.command(turn.text)
    if reply is not None:
        replies.answer(turn, *reply)
        return
    hold = holding.command(turn.text)
    if hold is not None:
        _hold(turn, *hold)
        return
    intent = turn.reading.intent
    if intent in ("stop", "start", "help"):
        _command(turn, intent)
    elif intent in ("status", "my_cases", "open_cases"):
        getattr(queries, intent)(turn)
    else:
        _route(turn)


def _tapped(turn: Turn, action: str, thread_id: str) -> None:
    conversation = turn.conversation
    thread = conversation.threads.get(thread_id)
    if action == "pick":
        pending = conversation.session.pop("pending", None)
        picks = conversation.session.pop("picks", None)
        if thread is None or not thread.open or pending is None or (picks is not None and thread_id not in picks):
            turn.reply(turn.say("already_done"))
            return
        replayed = for_message(turn.rt, conversation, turn.person, InboundMessage.from_json(pending), thread)
        replayed.key_base = turn.message.id  # the pick, not the first answer, is what this turn answers
        replayed.late_since = turn.late_since
        _run(replayed)
        return
    if thread is None or not thread.open:
        turn.reply(turn.say("already_done") if thread is not None else turn.say("not_understood",
                                                                                 hint=turn.say("hint_generic")))
        return
    if action not in offered(thread):  # an old button, or a forged id: nothing happens
        log.info("tap %s on %s: not offered (%s)", action, thread_id, ", ".join(sorted(offered(thread))))
        turn.reply(turn.say("tap_stale", hint=_hint(turn, thread)))
        return
    turn.thread, turn.action = thread, action
    _run(turn)


def _hold(turn: Turn, verb: str, case_id: str) -> None:
    """take / release: the staff member's side of a held case is their relay thread."""
    if verb == "release":
        holding.release(turn, case_id)
        return
    hold = holding.take(turn, case_id)
    if hold is not None:
        side = relay.opening(case_id, hold["partner_id"], hold["thread_url"])
        if side.id not in turn.conversation.threads or not turn.conversation.threads[side.id].open:
            turn.conversation.threads[side.id] = side


def _command(turn: Turn, intent: str) -> None:
    if intent in ("stop", "start"):
        session = turn.conversation.session
        if turn.late_since is not None and session.get("opted_ts", 0) > turn.late_since:
            overtaken(turn)  # a later STOP or START stands
            return
        session["opted_ts"] = turn.message.timestamp
    if intent == "stop":
        turn.rt.redis.sadd(keyspace.OPTED_OUT, turn.person.phone)
        turn.reply(turn.say("stopped"))
    elif intent == "start":
        turn.rt.redis.srem(keyspace.OPTED_OUT, turn.person.phone)
        turn.reply(turn.say("started"))
    else:
        turn.reply(turn.say("help"))


def _route(turn: Turn) -> None:
    conversation, reading = turn.conversation, turn.reading
    if turn.message.context_id:
        thread_id = conversation.thread_of(turn.message.context_id)
        thread = conversation.threads.get(thread_id or "")
        if thread is not None and not thread.open and _case_still_open(turn, thread):
            FLOWS[thread.flow].reopen(thread)  # a reply to a case's notification always leads back to the case
        if thread is not None and thread.open:
            turn.thread = thread
            _run(turn)
            return
    candidates = [t for t in conversation.open_threads() if not FLOWS[t.flow].quoted_only]
    if len(candidates) > 1 and reading.references:
        known = {t.reference: t for t in candidates}
        for ref in reading.references:
            matched = references.match(ref.value, list(known))
            if matched:
                candidates = [known[matched]]
                break
    if len(candidates) > 1:  # threads that cannot take this kind of message are not asked about
        candidates = [t for t in candidates if FLOWS[t.flow].answers(t, reading.intent)] or candidates
    if len(candidates) > 1:  # a "yes" is for the thread that asked for one
        waiting = [t for t in candidates if FLOWS[t.flow].awaits(t, reading.intent)]
        candidates = waiting or candidates
    if len(candidates) == 1:
        turn.thread = candidates[0]
        _run(turn)
    elif candidates and turn.late_since is not None:
        overtaken(turn)  # which one it was about is a question for what the person writes now
    elif candidates:
        _ask_which(turn, candidates)
    elif isinstance(turn.person, Contact) and problem.reports_problem(turn):
        turn.thread = problem.opening(turn.message.id, at=turn.message.timestamp)
        conversation.threads[turn.thread.id] = turn.thread
        _run(turn)
    elif turn.late_since is not None and any(t.updated_at > turn.late_since for t in conversation.threads.values()):
        overtaken(turn)  # what it answered was finished by what came after
    else:
        _unplaced(turn, turn.say("hint_generic"))


def _case_still_open(turn: Turn, thread: threads.Thread) -> bool:
    case_id = thread.slots.get("case_id")
    if not FLOWS[thread.flow].reopenable or not case_id:
        return False
    case = turn.ask_grid(cases.read, str(case_id))
    return case is not None and case.status == "open"


def _ask_which(turn: Turn, candidates: list[threads.Thread]) -> None:
    turn.conversation.session["pending"] = turn.message.to_json()
    turn.conversation.session["picks"] = [t.id for t in candidates[:10]]
    rows = [(tap_id("pick", t.id), t.reference, say.flow_label(turn.language, t.flow)) for t in candidates[:10]]
    turn.choose(turn.say("which_thread"), say.button(turn.language, "choose"), rows)


def _run(turn: Turn) -> None:
    assert turn.thread is not None
    if turn.late_since is not None and turn.thread.updated_at > turn.late_since:
        overtaken(turn)
        return
    case_id = turn.thread.slots.get("case_id")
    hold = holding.held(turn.rt, str(case_id)) if case_id and isinstance(turn.person, Contact) else None
    if hold is not None:  # a person has it: the bot asks nothing, and passes the words on
        holding.forward(turn, str(case_id), hold)
        return
    flow = FLOWS[turn.thread.flow]
    trigger = flow.event(turn)
    if trigger is not None and flow.fire(turn, trigger):
        turn.conversation.remember(turn.message.id, turn.thread.id)  # an edit of it comes back here
        turn.thread.updated_at = max(turn.thread.updated_at, turn.message.timestamp)
        turn.conversation.session["unplaced"] = 0
        waits.begin(turn, flow)
        return
    if flow.stuck(turn):
        turn.conversation.remember(turn.message.id, turn.thread.id)
        return
    _unplaced(turn, _hint(turn, turn.thread))


def _hint(turn: Turn, thread: threads.Thread) -> str:
    """What to do now, in words: the buttons the thread's latest message offers, by name, else
    what its flow suggests in its state."""
    labels = say.buttons_named(turn.language, [str(a) for a in thread.slots.get(OFFERED) or []])
    if labels:
        return turn.say("hint_buttons", buttons=labels)
    return turn.say(FLOWS[thread.flow].hint(thread))


def overtaken(turn: Turn) -> None:
    """A message that arrived after a newer one was answered, about something that newer
    messages (or a notification) changed since it was written: acting on it now could undo what
    the person said later, so it is not acted on, and the person is told so, with their words."""
    quoted = turn.text[:200]
    turn.reply(turn.say("overtaken", text=quoted) if quoted else turn.say("overtaken_untitled"))


def _unplaced(turn: Turn, hint: str) -> None:
    """Not understood: say so; the third time in a row, hand over to a person. (Not when this
    turn already answered: a "yes" to a confirmation that ran out was told so, and that is all.)"""
    if turn.replies:
        return
    session = turn.conversation.session
    session["unplaced"] = session.get("unplaced", 0) + 1
    recent = (session.get("recent") or [])[-(RECENT_KEPT - 1):] + [turn.text]
    session["recent"] = recent
    if session["unplaced"] < UNPLACED_LIMIT:
        turn.reply(turn.say("not_understood", hint=hint))
        return
    session["unplaced"] = 0
    person = turn.person
    task = turn.write(NewTask(
        partner_id=person.partner_id if isinstance(person, Contact) else "STAFF",
        case_id=turn.thread.slots.get("case_id") if turn.thread else None,
        title=turn.say("handoff_task_title", name=person.name, phone=f"+{person.phone}"),
        description=turn.say("handoff_task_description", name=person.name,
                             messages="\n".join(f"- {t}" for t in recent[-UNPLACED_LIMIT:]))), "handoff")
    if task is not None:
        turn.reply(turn.say("handoff"))
        _tell_a_person(turn, recent[-UNPLACED_LIMIT:])


def _tell_a_person(turn: Turn, said: list[str]) -> None:
    """The case's owner (else the support group) hears on WhatsApp who needs a person, with what
    they wrote, and can answer right there (conversations.flows.relay)."""
    slots = turn.thread.slots if turn.thread else {}
    person = turn.person
    turn.announce("handoff", "handoff", phone=person.phone, messages=said, case_id=slots.get("case_id"),
                  partner_id=person.partner_id if isinstance(person, Contact) else "",
                  thread_url=slots.get("thread_url") or "")


def mark_read(rt: Runtime, message_id: str) -> None:
    """Blue ticks on the message and every one before it. A courtesy: a failure here must not
    hold up the answer."""
    try:
        rt.whatsapp.mark_read(message_id)
    except errors.GraphError as exc:
        log.info("could not mark %s read: %s", message_id, exc)
