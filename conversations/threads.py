"""A contact's conversation: its threads (one per case, schedule, alert, ...), its session and
which thread each recent message we sent belongs to, kept as one deflated JSON value in Redis
(one key, no per-field overhead) and always loaded, changed and saved under the contact's lock."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import zlib
from collections.abc import Iterator
from typing import Any, Literal

from app import jsonsafe, keeper, keyspace, runtime, scripts, writebehind
from conversations import census
from app.runtime import Runtime

FINAL_STATES = frozenset({"done", "cancelled"})
LOCK_WAIT_SECONDS = 10
SENT_KEPT = 50  # messages we sent whose thread is remembered, for a reply that quotes one


@dataclasses.dataclass
class Thread:
    id: str                      # "case:CASE-1042", "schedule:CASE-1042", "alert:AL-7", ...
    flow: str                    # which flow module drives it
    state: str
    slots: dict[str, Any] = dataclasses.field(default_factory=dict)
    opened_at: float = dataclasses.field(default_factory=time.time)
    updated_at: float = dataclasses.field(default_factory=time.time)

    @property
    def open(self) -> bool:
        return self.state not in FINAL_STATES

    @property
    def reference(self) -> str:
        return str(self.slots.get("reference") or self.slots.get("case_id") or self.id.split(":", 1)[-1])


@dataclasses.dataclass
class Conversation:
    contact: str
    threads: dict[str, Thread]
    session: dict[str, Any]
    sent: dict[str, str] = dataclasses.field(default_factory=dict)  # wamid digest -> thread id, oldest first
    loaded: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # as read: what the census counts

    def open_threads(self) -> list[Thread]:
        return sorted((t for t in self.threads.values() if t.open), key=lambda t: t.opened_at)

    def remember(self, wamid: str, thread_id: str) -> None:
        """A message we sent for `thread_id`: a reply quoting it continues that thread."""
        self.sent[keyspace.digest(wamid)] = thread_id

    def thread_of(self, wamid: str) -> str | None:
        return self.sent.get(keyspace.digest(wamid))


# Stored conversations are deflated against this dictionary of what every one of them repeats
# (field names, flows, states), which saves about a third again over plain deflate. The first
# byte says which dictionary: a new one gets a new version, and values stored with the old one
# stay readable.
_FORMAT = b"\x01"
_DICTIONARY = json.dumps({
    "threads": {"case:CASE-": {"flow": "exception", "state": "confirming", "slots": {
        "case_id": "CASE-", "partner_id": "", "reference": "PO-", "issue_type": "shipment_delay", "summary": "",
        "thread_url": "https://", "proposal": {"kind": "date", "value": "20", "text": ""}, "expected_date": "",
        "order_ref": "", "document_type": "", "milestone": "", "alert_id": ""},
        "opened_at": 1, "updated_at": 1}},
    "session": {"last_ts": 1, "unplaced": 0, "pending": ""}, "sent": {}}, separators=(",", ":")).encode()


def encode(data: dict[str, Any]) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=_DICTIONARY)
    return _FORMAT + deflate.compress(jsonsafe.dumps(data)) + deflate.flush()


def decode(raw: bytes | None) -> dict[str, Any]:
    """A stored conversation (see `encode`); {} for none."""
    if not raw:
        return {}
    if raw[:1] != _FORMAT:
        raise ValueError(f"conversation stored in an unknown format {raw[:1]!r}")
    inflate = zlib.decompressobj(-15, zdict=_DICTIONARY)
    return jsonsafe.loads_stored(inflate.decompress(raw[1:]) + inflate.flush())


def load(rt: Runtime, contact: str, stored: bytes | None | Literal[False] = False) -> Conversation:
    """The contact's conversation; `stored`: its stored form when read already (None: there is none)."""
    data = decode(rt.redis.get(keyspace.conversation_key(contact)) if stored is False else stored)
    threads = {tid: Thread(id=tid, **fields) for tid, fields in data.get("threads", {}).items()}
    return Conversation(contact, threads, data.get("session", {}), data.get("sent", {}),
                        census.snapshot((t.id, t.flow, t.state) for t in threads.values()))


def read(pipe: Any, contact: str) -> None:
    """Queues on `pipe` the reading of the contact's stored conversation (for `load`)."""
    pipe.get(keyspace.conversation_key(contact))


def save(rt: Runtime, conversation: Conversation) -> None:
    """Writes the conversation back; finished threads are kept a week, then forgotten, and so are
    messages of threads forgotten or older than the last SENT_KEPT. In a drain's turn, the write
    waits for the round trip that ends it (app.writebehind), and is made only if the turn succeeds."""
    now = time.time()
    threads = {t.id: {name: value for name, value in dataclasses.asdict(t).items() if name != "id"}
               for t in conversation.threads.values()
               if t.open or now - t.updated_at <= keyspace.CLOSED_THREAD_KEEP_SECONDS}
    sent = [(wamid, tid) for wamid, tid in conversation.sent.items() if tid in threads][-SENT_KEPT:]
    value = encode({"threads": threads, "session": conversation.session, "sent": dict(sent)})
    kept = census.snapshot((tid, t["flow"], t["state"]) for tid, t in threads.items())
    loaded = conversation.loaded

    def build(pipe: Any) -> None:
        pipe.execute_command("SET", keyspace.conversation_key(conversation.contact), value, "EX",  # not set(): see app.outbound._record
                             keyspace.CONVERSATION_TTL)
        census.record(pipe, conversation.contact, loaded, kept)  # the census moves in the same round trip

    pending = writebehind.current()
    if pending is not None:
        pending.add(build)
    else:
        scripts.run(rt.redis, build)
    conversation.loaded = kept


@contextlib.contextmanager
def locked(rt: Runtime, contact: str, conversation_of: str | None = None) -> Iterator[Conversation]:
    """The contact's conversation, for code outside the contact's inbox (notifications): the same
    lock the inbox worker holds, so a thread is never opened and answered at the same moment.
    `conversation_of`: the directory phone the conversation is kept under, where the inbox's
    contact is how Meta named the person (a user id)."""
    lock = rt.redis.lock(keyspace.contact_lock_key(contact), timeout=keyspace.CONTACT_LOCK_TTL,
                         blocking_timeout=LOCK_WAIT_SECONDS, thread_local=False)
    if not lock.acquire():
        raise TimeoutError(f"contact {contact} stayed locked")
    try:
        with keeper.hold(lock):  # a send may wait for its pace longer than the lock lives
            conversation = load(rt, conversation_of or contact)
            yield conversation
            save(rt, conversation)
    finally:
        with contextlib.suppress(Exception):
            lock.release()


def recount_census() -> None:
    """A job: the /ops census counted again from the conversations themselves (conversations.census)."""
    census.rebuild(runtime.current().redis, decode)
