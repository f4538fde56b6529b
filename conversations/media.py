"""A photo, PDF, voice note or video arrives: refused at once when it cannot be attached (a type
Trading Grid should not hold, over MEDIA_MAX_BYTES, a media id Meta no longer serves), else kept
with the others the person sends in the next few seconds. WhatsApp delivers an album as one
message a photo, so the question comes once they stop: one question for the lot
(conversations.flows.files), asked by a job under the person's lock.

Where they go: the thread the person replied to; else the one open thread that takes files; else
a choice of those, or of the person's open cases in Trading Grid; none at all is said so."""
from __future__ import annotations

import logging
import time
from typing import Any

from app import attachable, keyspace, queues, runtime
from app.directory import Contact, Staff
from app.runtime import Runtime
from app.tradinggrid.port import TransientError
from app.whatsapp import media
from app.whatsapp.inbound import InboundMessage
from conversations import say, threads, waits
from conversations.flows import files
from conversations.threads import Conversation, Thread
from conversations.turn import Turn, for_message

log = logging.getLogger(__name__)
GATHER_SECONDS = 3.0     # files that come within this of each other are one question
GATHER_AT_MOST = 60.0    # ...but a stream of them is asked about after this at the latest
BATCH = "files"          # in the session: the files gathered, waiting for their question
FILE_TYPES = frozenset({"image", "document", "audio", "video"})


def received(turn: Turn) -> None:
    """A file in a message: checked now (so a refusal comes at once), asked about shortly."""
    message = turn.message
    if message.type not in FILE_TYPES:
        return  # a sticker: nothing to attach, and nothing to say
    sent = message.media or {}
    mime = str(sent.get("mime_type") or "application/octet-stream")
    name = attachable.filename_for(message.type, mime, sent.get("filename"), message.timestamp)
    if not attachable.acceptable(mime, name):
        turn.reply(turn.say("file_refused_type", name=name))
        return
    try:
        with turn.typing():
            info = turn.rt.media.describe(str(sent.get("id") or ""))
    except media.MediaGone:
        turn.reply(turn.say("file_gone", name=name))
        return
    except media.MediaUnavailable as exc:
        raise TransientError(exc.reason) from None  # the turn is tried again, with backoff
    limit = turn.rt.settings.media_max_bytes
    if info.size is not None and info.size > limit:
        turn.reply(turn.say("file_too_large", name=name, limit=attachable.size_in_words(limit)))
        return
    _gather(turn, files.File(media_id=info.id, filename=name, mime_type=sent.get("mime_type") or info.mime_type,
                             kind=message.type, size=info.size or 0, voice=bool(sent.get("voice")),
                             caption=message.text, message_id=message.id))


def _gather(turn: Turn, file: files.File) -> None:
    session = turn.conversation.session
    batch = session.get(BATCH)
    if not batch:
        batch = {"id": turn.message.id, "since": time.time(), "files": [], "first": turn.message.to_json()}
        _ask_later(turn.rt, turn.message.sender, turn.person.phone, batch["id"])
    batch["files"].append(file)
    session[BATCH] = batch


def _ask_later(rt: Runtime, sender: str, phone: str, batch: str) -> None:
    at = time.time() + GATHER_SECONDS
    rt.queues.enqueue_at(queues.EVENTS, at, queues.ASK_FILES, sender, phone, batch,
                         job_id=f"files-{keyspace.digest(sender)}-{keyspace.digest(batch)}-{int(at)}")


def gathered(sender: str, phone: str, batch_id: str) -> bool:
    """A job: the files gathered since `batch_id` are asked about, once the person has stopped
    sending (their messages still waiting to be handled may be more files). True if asked."""
    rt = runtime.current()
    with threads.locked(rt, sender, conversation_of=phone) as conversation:
        batch = conversation.session.get(BATCH)
        if not batch or batch.get("id") != batch_id:
            return False  # asked already (a job run twice)
        if rt.redis.zcard(keyspace.inbox_key(sender)) and time.time() - batch["since"] < GATHER_AT_MOST:
            _ask_later(rt, sender, phone, batch_id)
            return False
        person = rt.directory.person(phone)
        del conversation.session[BATCH]
        if person is None:
            return False
        turn = for_message(rt, conversation, person, InboundMessage.from_json(batch["first"]))
        turn.key_base = f"{batch_id}:files"
        ask(turn, batch["files"])
    return True


def ask(turn: Turn, gathered_files: list[files.File]) -> None:
    """One question for the files: where they go (or which case), with Confirm and Cancel."""
    conversation, person = turn.conversation, turn.person
    quoted = conversation.threads.get(conversation.thread_of(turn.message.context_id or "") or "")
    target = _target(turn, quoted) if quoted is not None else None
    choices = [target] if target is not None else _choices(turn)
    if not choices:
        turn.reply(turn.say("file_no_case", **files.described(turn, gathered_files)))
        return
    thread = _waiting_for(conversation, choices[0]) if len(choices) == 1 else None
    if thread is None:
        thread = files.FLOW.open(files.thread_id(turn.message.id), files.Slots(files=[]), at=turn.message.timestamp)
        conversation.threads[thread.id] = thread
    slots: Any = thread.slots
    slots["files"] = [*slots.get("files", []), *gathered_files]
    if len(choices) == 1:
        slots["target"] = choices[0]
    else:
        slots["choices"] = choices
        slots["reference"] = gathered_files[0]["filename"]
    turn.thread = thread
    if files.FLOW.fire(turn, "gathered"):
        conversation.remember(turn.message.id, thread.id)
        waits.begin(turn, files.FLOW)
    log.info("files from %s: %d, to %s", person.id if isinstance(person, Staff) else person.phone,
             len(slots["files"]), slots.get("reference"))


def _waiting_for(conversation: Conversation, target: files.Target) -> Thread | None:
    """A files thread already asking about the same place: these files join its question."""
    for thread in conversation.open_threads():
        if thread.flow == "files" and thread.state == "confirming" and _same(thread.slots.get("target"), target):
            return thread
    return None


def _same(one: Any, other: files.Target) -> bool:
    return isinstance(one, dict) and (one.get("kind"), one.get("case_id"), one.get("request")) == (
        other.get("kind"), other.get("case_id"), other.get("request"))


def _target(turn: Turn, thread: Thread) -> files.Target | None:
    """Where a file sent in `thread` goes: the request it answers, or the thread's case."""
    slots = thread.slots
    if thread.flow == "document_request":
        if not thread.open:
            return None
        words = say.term(turn.language, "document_types", str(slots.get("document_type")))
        return files.Target(kind="document", case_id=slots.get("case_id"), reference=slots.get("case_id") or words,
                            summary=words, partner_id=getattr(turn.person, "partner_id", ""),
                            document_type=str(slots.get("document_type")), request=thread.id,
                            subject_id=str(slots.get("subject_id")))
    case_id = slots.get("case_id")
    if not case_id or thread.flow == "files":
        return None
    return files.Target(kind="case", case_id=str(case_id), reference=str(case_id),
                        summary=str(slots.get("reference") or slots.get("summary") or ""))


def _choices(turn: Turn) -> list[files.Target]:
    """The open threads that take files, else the person's open cases in Trading Grid."""
    found: dict[tuple[Any, ...], files.Target] = {}
    for thread in turn.conversation.open_threads():
        target = _target(turn, thread)
        if target is not None:
            found.setdefault((target.get("kind"), target.get("case_id"), target.get("request")), target)
    if found:
        return list(found.values())[:files.CHOOSE_AT_MOST]
    person = turn.person
    by = {"partner_id": person.partner_id} if isinstance(person, Contact) else {"assignee_id": person.id}
    with turn.typing():
        cases = turn.rt.tradinggrid.list_cases(status="open", **by)
    return [files.Target(kind="case", case_id=c["id"], reference=c["id"],
                         summary=f"{c.get('reference') or ''} {c.get('summary') or ''}".strip())
            for c in cases[:files.CHOOSE_AT_MOST]]
