"""What tgwa writes to Trading Grid, typed: one class per write, each naming the port method that
makes it and the JSON it sends (the REST bodies the README describes). A write travels to a
background job or the parked list as that plain JSON (`args`) and comes back typed (`read`), so a
queued job is the same whichever version of tgwa queued it."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from app.tradinggrid.port import Record


@dataclasses.dataclass(frozen=True)
class Author:
    """Who wrote or answered: a partner contact (by phone) or a staff member (by id)."""

    kind: str  # port.AUTHOR_KINDS
    id: str
    name: str
    phone: str

    def as_json(self) -> Record:
        return dataclasses.asdict(self)

    @classmethod
    def read(cls, raw: Record) -> Author:
        return cls(str(raw["kind"]), str(raw["id"]), str(raw["name"]), str(raw.get("phone", "")))


def _plain(body: Any, *leave_out: str) -> Record:
    """A body's fields as JSON, without those it leaves unset."""
    out: Record = {}
    for field in dataclasses.fields(body):
        value = getattr(body, field.name)
        if field.name in leave_out or value is None:
            continue
        out[field.name] = value.as_json() if isinstance(value, (Author, FileRef)) else value
    return out


def _known(cls: type, raw: Record) -> Record:
    """The fields of `raw` that `cls` has (a body queued by an older tgwa may carry others)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in raw.items() if k in names}


@dataclasses.dataclass(frozen=True)
class NewCase:
    """A problem a partner reported on WhatsApp, as a case."""

    OPERATION: ClassVar[str] = "create_case"
    partner_id: str
    issue_type: str
    reference: str
    summary: str
    source: str = "whatsapp"

    def args(self) -> list[Any]:
        return [_plain(self)]

    @classmethod
    def read(cls, args: list[Any]) -> NewCase:
        return cls(**_known(cls, args[0]))


@dataclasses.dataclass(frozen=True)
class NewExpectedDate:
    """A corrected delivery date on a case."""

    OPERATION: ClassVar[str] = "update_case"
    case_id: str
    expected_date: str  # YYYY-MM-DD

    def args(self) -> list[Any]:
        return [self.case_id, {"expected_date": self.expected_date}]

    @classmethod
    def read(cls, args: list[Any]) -> NewExpectedDate:
        return cls(str(args[0]), str(args[1]["expected_date"]))


@dataclasses.dataclass(frozen=True)
class NewReference:
    """A missing PO, invoice or shipment number, added to a case."""

    OPERATION: ClassVar[str] = "add_reference"
    case_id: str
    kind: str  # port.REFERENCE_KINDS
    value: str

    def args(self) -> list[Any]:
        return [self.case_id, {"kind": self.kind, "value": self.value}]

    @classmethod
    def read(cls, args: list[Any]) -> NewReference:
        return cls(str(args[0]), str(args[1]["kind"]), str(args[1]["value"]))


@dataclasses.dataclass(frozen=True)
class NewComment:
    """Someone's own words on a case, signed."""

    OPERATION: ClassVar[str] = "add_comment"
    case_id: str
    body: str
    author: Author
    wa_message_id: str | None = None
    source: str = "whatsapp"

    def args(self) -> list[Any]:
        return [self.case_id, _plain(self, "case_id")]

    @classmethod
    def read(cls, args: list[Any]) -> NewComment:
        raw = _known(cls, args[1])
        return cls(case_id=str(args[0]), **{**raw, "author": Author.read(raw["author"])})


@dataclasses.dataclass(frozen=True)
class NewTask:
    """Work for a person at the company: a call-back, a proposed date to review."""

    OPERATION: ClassVar[str] = "create_task"
    partner_id: str
    title: str
    description: str = ""
    case_id: str | None = None
    assignee_id: str | None = None
    due_date: str | None = None

    def args(self) -> list[Any]:
        return [_plain(self)]

    @classmethod
    def read(cls, args: list[Any]) -> NewTask:
        return cls(**_known(cls, args[0]))


@dataclasses.dataclass(frozen=True)
class NewAcknowledgment:
    """A timestamped answer to a case, schedule, alert, assignment, onboarding step or document."""

    OPERATION: ClassVar[str] = "create_acknowledgment"
    subject_type: str  # port.ACK_SUBJECTS
    subject_id: str
    response: str  # port.ACK_RESPONSES
    responder: Author
    responded_at: str  # RFC 3339, when the person answered on WhatsApp
    wa_message_id: str | None = None
    text: str | None = None

    def args(self) -> list[Any]:
        return [_plain(self)]

    @classmethod
    def read(cls, args: list[Any]) -> NewAcknowledgment:
        raw = _known(cls, args[0])
        return cls(**{**raw, "subject_id": str(raw["subject_id"]), "responder": Author.read(raw["responder"])})


@dataclasses.dataclass(frozen=True)
class FileRef:
    """A file someone sent on WhatsApp, by Meta's media id: its bytes are fetched when the write
    lands (and again on a retry: Meta's download links live minutes, its ids days)."""

    media_id: str
    filename: str
    mime_type: str
    kind: str  # image, document, audio, video
    size: int | None = None  # as Meta gave it
    voice: bool = False  # a voice note recorded in WhatsApp

    def as_json(self) -> Record:
        return dataclasses.asdict(self)

    @classmethod
    def read(cls, raw: Record) -> FileRef:
        return cls(**_known(cls, raw))


def _file_metadata(body: NewAttachment | NewDocument, sha256: str, extra: Record) -> Record:
    """The multipart `metadata` part (contract section 5) once the bytes are in hand."""
    out: Record = {"author": body.author.as_json(), "source": "whatsapp", "wa_message_id": body.wa_message_id,
                   "sha256": sha256, **extra}
    for name in ("caption", "document_type"):
        if getattr(body, name):
            out[name] = getattr(body, name)
    return out


@dataclasses.dataclass(frozen=True)
class NewAttachment:
    """A photo, PDF, voice note or video a partner sent about a case, attached to it."""

    OPERATION: ClassVar[str] = "add_attachment"
    case_id: str
    file: FileRef
    author: Author
    wa_message_id: str
    caption: str | None = None
    document_type: str | None = None

    def args(self) -> list[Any]:
        return [self.case_id, {**_plain(self, "case_id", "file"), "file": self.file.as_json()}]

    def metadata(self, sha256: str, **extra: Any) -> Record:
        return _file_metadata(self, sha256, extra)

    @classmethod
    def read(cls, args: list[Any]) -> NewAttachment:
        raw = _known(cls, args[1])
        return cls(case_id=str(args[0]), **{**raw, "author": Author.read(raw["author"]),
                                             "file": FileRef.read(raw["file"])})


@dataclasses.dataclass(frozen=True)
class NewDocument:
    """A file a partner sent in answer to a document request, as a document of that type."""

    OPERATION: ClassVar[str] = "create_document"
    partner_id: str
    document_type: str
    file: FileRef
    author: Author
    wa_message_id: str
    caption: str | None = None
    case_id: str | None = None

    def args(self) -> list[Any]:
        return [{**_plain(self, "file"), "file": self.file.as_json()}]

    def metadata(self, sha256: str, **extra: Any) -> Record:
        out = _file_metadata(self, sha256, extra)
        out["partner_id"] = self.partner_id
        if self.case_id:
            out["case_id"] = self.case_id
        return out

    @classmethod
    def read(cls, args: list[Any]) -> NewDocument:
        raw = _known(cls, args[0])
        return cls(**{**raw, "author": Author.read(raw["author"]), "file": FileRef.read(raw["file"])})


FILE_BODIES = (NewAttachment, NewDocument)  # the writes that carry a file
Body = NewCase | NewExpectedDate | NewReference | NewComment | NewTask | NewAcknowledgment | NewAttachment | NewDocument
BY_OPERATION: dict[str, type[Body]] = {cls.OPERATION: cls for cls in (NewCase, NewExpectedDate, NewReference,
                                                                        NewComment, NewTask, NewAcknowledgment,
                                                                        NewAttachment, NewDocument)}


def read(operation: str, args: list[Any]) -> Body:
    """A body back from its plain JSON; ValueError for an operation tgwa does not write, or for
    arguments that do not make one."""
    if operation not in BY_OPERATION:
        raise ValueError(f"{operation!r} is not a Trading Grid write tgwa makes")
    try:
        return BY_OPERATION[operation].read(args)
    except (IndexError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{operation} arguments do not make a body: {exc!r}") from None
