"""Files a person sent (photos, PDFs, voice notes, videos): said back, then attached on Confirm.
The files sent together are one thread and one question (conversations.media gathers them); it
asks which case when nothing says where they go.

    new --gathered--> confirming --confirm--> done
    new --gathered--> choosing --pick--> confirming
    choosing/confirming --cancel--> cancelled

A file in a case's thread goes onto that case (`POST /cases/{id}/attachments`); in answer to a
document request it becomes a document of the requested type (`POST /documents`), and the
request is acknowledged as done."""
from __future__ import annotations

from typing import TypedDict

from transitions import EventData

from app import attachable
from app.tradinggrid.bodies import FileRef, NewAttachment, NewDocument
from app.writes import PENDING
from conversations import say
from conversations.flows.base import CONFIRMATION_SECONDS, Flow, slots_of, turn_of
from conversations.threads import Thread
from conversations.turn import Turn, offer, tap_id

CHOOSE_AT_MOST = 9  # list rows, with one left for Cancel
PICK = "to:"  # a list row's action: the case chosen, by its place in the list


class File(TypedDict):
    """One file as Meta described it, and the message it came in."""

    media_id: str
    filename: str
    mime_type: str
    kind: str        # image, document, audio, video
    size: int
    voice: bool
    caption: str | None
    message_id: str


class Target(TypedDict, total=False):
    """Where the files go: a case, or a document request (the thread it opened)."""

    kind: str           # case or document
    case_id: str | None
    reference: str
    summary: str
    partner_id: str
    document_type: str
    request: str        # the document request's thread
    subject_id: str     # what the request is acknowledged as


class Slots(TypedDict, total=False):
    files: list[File]
    target: Target
    choices: list[Target]
    reference: str      # what the thread is shown as: where the files go, else the first file


def thread_id(batch: str) -> str:
    return f"files:{batch}"


def described(turn: Turn, files: list[File]) -> dict[str, str]:
    """The files in words: "pod.pdf" or "3 files", their size, and "it" or "them"."""
    many = len(files) > 1
    return {"files": turn.say("file_many", count=len(files)) if many else turn.say("file_one", name=files[0]["filename"]),
            "size": attachable.size_in_words(sum(f["size"] for f in files)),
            "them": turn.say("file_them" if many else "file_it")}


def ask(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    words = described(turn, slots["files"])
    target = slots.get("target")
    if target is None:
        choices = slots.get("choices") or []
        actions = [f"{PICK}{n}" for n in range(len(choices))] + ["cancel"]
        offer(turn.here, actions)
        rows = [(tap_id(a, turn.here.id), c["reference"], c.get("summary") or None) for a, c in zip(actions, choices)]
        rows.append((tap_id("cancel", turn.here.id), say.button(turn.language, "cancel"), None))
        turn.choose(turn.say("file_which_case", **words), say.button(turn.language, "choose"), rows)
        return
    slots["reference"] = target["reference"]
    if target["kind"] == "document":
        body = turn.say("file_ask_document", document_type=say.term(turn.language, "document_types",
                                                                  target["document_type"]), **words)
    else:
        body = turn.say("file_ask", reference=target["reference"], **words)
    turn.ask(body, ["confirm", "cancel"])


def picked(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    slots["target"] = (slots.get("choices") or [])[int(event.kwargs["choice"])]
    ask(event)


def attach(event: EventData) -> None:
    turn = turn_of(event)
    slots = slots_of(turn, Slots)
    target, files = slots["target"], slots["files"]
    results = []
    for n, file in enumerate(files):
        ref = FileRef(file["media_id"], file["filename"], file["mime_type"], file["kind"], file["size"], file["voice"])
        if target["kind"] == "document":
            body: NewAttachment | NewDocument = NewDocument(
                target["partner_id"], target["document_type"], ref, turn.author(), file["message_id"],
                file["caption"], target.get("case_id"))
        else:
            body = NewAttachment(str(target["case_id"]), ref, turn.author(), file["message_id"], file["caption"])
        results.append(turn.write(body, f"file:{n}"))
    if None in results:
        return  # refused (too large by now, gone from WhatsApp, or Trading Grid said no): the person was told
    if target["kind"] == "document":
        results.append(turn.acknowledge("document", target["subject_id"], "done"))
        request = turn.conversation.threads.get(target.get("request", ""))
        if request is not None and request.open:
            request.state = "done"
    if PENDING in results:
        turn.reply(turn.say("saving_later", name=turn.first_name))
    elif target["kind"] == "document":
        turn.reply(turn.say("file_document_sent", name=turn.first_name,
                            document_type=say.term(turn.language, "document_types", target["document_type"])))
    elif all(f["voice"] for f in files):
        turn.reply(turn.say("file_attached_voice", name=turn.first_name, reference=target["reference"]))
    else:
        turn.reply(turn.say("file_attached", name=turn.first_name, reference=target["reference"],
                            files=described(turn, files)["files"]))


def cancelled(event: EventData) -> None:
    turn_of(event).reply(turn_of(event).say("cancelled"))


class FilesFlow(Flow):
    def __init__(self) -> None:
        super().__init__("files", ["new", "choosing", "confirming", "done", "cancelled"], [
            {"trigger": "gathered", "source": ["new", "choosing", "confirming"], "dest": "confirming",
             "conditions": _has_target, "after": ask},
            {"trigger": "gathered", "source": ["new", "choosing"], "dest": "choosing", "after": ask},
            {"trigger": "pick", "source": "choosing", "dest": "confirming", "after": picked},
            {"trigger": "confirm", "source": "confirming", "dest": "done", "after": attach},
            {"trigger": "cancel", "source": ["choosing", "confirming"], "dest": "cancelled", "after": cancelled},
        ], initial="new", waits_for={"confirm": "confirming", "cancel": "confirming"},
            hints={"confirming": "hint_confirm"},
            timeouts={"confirming": (CONFIRMATION_SECONDS, "cancelled"), "choosing": (CONFIRMATION_SECONDS, "cancelled")})

    def answers(self, thread: Thread, intent: str) -> bool:
        return intent in ("confirm", "cancel")

    def event(self, turn: Turn) -> str | None:
        action = turn.action or ""
        if action.startswith(PICK):
            turn.event_kwargs = {"choice": action[len(PICK):]}
            return "pick"
        if action:
            return action
        if turn.here.state == "choosing":
            choices = slots_of(turn, Slots).get("choices") or []
            named = {v.upper() for r in turn.reading.references for v in (r.value,)}
            for n, choice in enumerate(choices):
                if {str(choice.get("case_id") or "").upper(), choice["reference"].upper()} & named:
                    turn.event_kwargs = {"choice": str(n)}
                    return "pick"
        intent = turn.reading.intent
        return intent if intent in ("confirm", "cancel") else None


def _has_target(event: EventData) -> bool:
    return "target" in slots_of(turn_of(event), Slots)


FLOW = FilesFlow()
