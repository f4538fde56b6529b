"""Landing a Trading Grid write once, by one policy, whether a conversation's turn makes it or a
job tries it again in the background.

Each write is keyed (its idempotency key is the same on every try), so a retry after a timeout
lands once. A passing failure is tried again by a job (when Trading Grid said when, then); a
refusal is parked for a person, and the person the write was for is told, in their language."""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from app import attachable, outbound, parked, queues, reach, runtime, voice
from app.runtime import Runtime
from app.tradinggrid import bodies
from app.tradinggrid.port import PermanentError, Record, TransientError, Upload
from app.whatsapp import media, messages
from conversations import say

log = logging.getLogger(__name__)
PENDING = "pending"  # a write that Trading Grid did not take yet; a job will land it


@dataclasses.dataclass(frozen=True)
class Write:
    """One logical Trading Grid write: what it sends, its key, and who hears if it is refused."""

    body: bodies.Body      # what is written (app.tradinggrid.bodies), the port method it goes to
    key: str               # the idempotency key, the same on every try
    notify: str | None = None  # the wa_id told if Trading Grid refuses it, in their language
    told: bool = False  # they were told of a refusal before (a parked write retried): not again

    def as_job(self) -> list[Any]:
        """The job's arguments (`write_job`), plain JSON."""
        return [self.body.OPERATION, self.body.args(), self.key, self.notify, self.told]


def land(rt: Runtime, write: Write, tell: Callable[[str], None] | None = None,
         retrying: bool = False) -> Record | str | None:
    """Trading Grid's answer; PENDING when a job will try again; None when Trading Grid refused
    it (parked, and the person told: by `tell` when given, else in a message to `notify`).
    `retrying`: this is that job, and a passing failure raises, for RQ's backoff."""
    try:
        if isinstance(write.body, bodies.FILE_BODIES):
            return _with_file(rt, write.body, write.key)
        answer: Record = getattr(rt.tradinggrid, write.body.OPERATION)(*write.body.args(), idempotency_key=write.key)
        return answer
    except media.MediaError as exc:  # only a write with a file meets one
        if exc.retryable:
            return _defer(rt, write, TransientError(exc.reason), retrying)
        log.warning("file for %s cannot be taken from WhatsApp (%s); nothing written", write.key, exc.reason)
        name = write.body.file.filename if isinstance(write.body, bodies.FILE_BODIES) else ""
        _tell(rt, write, tell, "file_too_large" if isinstance(exc, media.MediaTooLarge) else "file_gone", name=name,
              limit=attachable.size_in_words(rt.settings.media_max_bytes), reason=exc.reason)
        return None
    except TransientError as exc:
        return _defer(rt, write, exc, retrying)
    except PermanentError as exc:
        log.warning("Trading Grid refused %s (%s); parked", write.key, exc.reason)
        parked.park(rt.redis, "write", exc.reason, {"operation": write.body.OPERATION, "args": write.body.args(),
                                                    "idempotency_key": write.key, "notify": write.notify})
        _tell(rt, write, tell, "write_failed", reason=exc.reason)
        return None


def _defer(rt: Runtime, write: Write, exc: TransientError, retrying: bool) -> str:
    """A passing failure: a job tries again (when Trading Grid said when, then); in that job, RQ's
    backoff does."""
    if retrying and exc.retry_after is None:
        raise exc
    log.info("Trading Grid write %s deferred: %s", write.key, exc.reason)
    if exc.retry_after is None:
        rt.queues.enqueue(queues.WRITES, write_job, *write.as_job())
    else:  # Trading Grid said when: ask again then, not before
        at = time.time() + exc.retry_after
        rt.queues.enqueue_at(queues.WRITES, at, write_job, *write.as_job(), job_id=f"write-{write.key}-{int(at)}")
    return PENDING


def _tell(rt: Runtime, write: Write, tell: Callable[[str], None] | None, prompt: str, **params: Any) -> None:
    """The person the write was for hears it did not happen (once: not again on a retry)."""
    if write.told:
        return
    person = rt.directory.person(write.notify) if write.notify else None
    body = say.text(person.language if person else "en", prompt, **params)
    if tell is not None:
        tell(body)
    elif write.notify and reach.windows_open(rt, [write.notify])[write.notify]:
        outbound.deliver(rt, messages.text(write.notify, body), f"parked:{write.key}")
    elif write.notify:  # no free-form message reaches them now, and no template says this: a person must
        _tell_owner(rt, write, person.name if person else f"+{write.notify}", str(params.get("reason") or prompt))


def subject_of(body: bodies.Body) -> str:
    """What a write is about, as a person names it: its case, else what it acknowledges."""
    return str(getattr(body, "case_id", None) or getattr(body, "subject_id", None) or getattr(body, "partner_id", ""))


CASE_SUBJECTS = ("case", "schedule", "assignment")  # acknowledgments whose subject is a case


def case_of(body: bodies.Body) -> str | None:
    """The case a write is on, where it is on one."""
    if isinstance(body, bodies.NewAcknowledgment):
        return body.subject_id if body.subject_type in CASE_SUBJECTS else None
    return getattr(body, "case_id", None)


def _tell_owner(rt: Runtime, write: Write, name: str, reason: str) -> None:
    """The case's owner (else the support group) hears of a refusal its partner cannot be told of."""
    subject = subject_of(write.body)
    for staff in reach.owners(rt, case_of(write.body)):
        body = say.text(staff.language, "write_failed_owner", name=name, case_id=subject, reason=reason)
        outbound.deliver(rt, messages.text(staff.phone, body), f"parked:{write.key.split(':', 1)[0]}:{staff.id}")


def _tell_saved(rt: Runtime, write: Write) -> None:
    """A write a job landed after the turn said "I'll save it as soon as Trading Grid answers": the
    person hears it is saved, once for everything that message wrote (while they can be written to)."""
    if not write.notify or not reach.windows_open(rt, [write.notify])[write.notify]:
        return
    person = rt.directory.person(write.notify)
    if person is None:
        return
    body = say.text(person.language, "saved_now", name=person.name.split()[0], subject=subject_of(write.body))
    outbound.deliver(rt, messages.text(write.notify, body), f"saved:{write.key.split(':', 1)[0]}")


def _with_file(rt: Runtime, body: bodies.NewAttachment | bodies.NewDocument, key: str) -> Record:
    """Fetches the file from WhatsApp now (Meta's link lives minutes) and sends it with its metadata."""
    ref = body.file
    with rt.media.fetched(ref.media_id, rt.settings.media_max_bytes) as fetched:
        extra: dict[str, Any] = {}
        seconds = voice.duration(fetched.path) if ref.kind == "audio" else None
        if seconds is not None:  # the note on the case says how long it is, for whoever will listen
            extra["duration_seconds"] = round(seconds, 1)
            said = f"{'Voice message' if ref.voice else 'Audio'} ({attachable.duration_in_words(seconds)})"
            extra["caption"] = f"{body.caption} ({said})" if body.caption else said
        upload = Upload(ref.filename, ref.mime_type, fetched.path, fetched.size)
        metadata = {**body.metadata(fetched.sha256), **extra}
        if isinstance(body, bodies.NewAttachment):
            return rt.tradinggrid.add_attachment(body.case_id, metadata, upload, idempotency_key=key)
        return rt.tradinggrid.create_document(metadata, upload, idempotency_key=key)


def write_job(operation: str, args: list[Any], idempotency_key: str, notify: str | None = None,
              told: bool = False) -> Record | str | None:
    """A job: a write tried again in the background (also what a parked write is retried as,
    `told`: its person heard of the refusal already, and is not told again if it fails again)."""
    rt = runtime.current()
    write = Write(bodies.read(operation, args), idempotency_key, notify, told)
    landed = land(rt, write, retrying=True)
    if isinstance(landed, dict):
        _tell_saved(rt, write)
    return landed
