"""A contact's conversation: its threads (one per case, schedule, alert, ...), its session and
which thread each recent message we sent belongs to, kept as one compressed JSON value in Redis
(one key, no per-field overhead) and always loaded, changed and saved under the contact's lock."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import zlib
from collections.abc import Iterator
from typing import Any

from app import store
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
    sent: dict[str, str] = dataclasses.field(default_factory=dict)  # wamid -> thread id, oldest first

    def open_threads(self) -> list[Thread]:
        return sorted((t for t in self.threads.values() if t.open), key=lambda t: t.opened_at)

    def thread_of(self, wamid: str) -> str | None:
        """The thread a message we sent belongs to (a reply quoting it continues that thread)."""
        return self.sent.get(wamid)


def decode(raw: bytes | None) -> dict[str, Any]:
    """A stored conversation: zlib-compressed JSON (a few hundred bytes saved per contact)."""
    return json.loads(zlib.decompress(raw)) if raw else {}


def load(rt: Runtime, contact: str) -> Conversation:
    data = decode(rt.redis.get(store.conversation_key(contact)))
    threads = {tid: Thread(id=tid, **fields) for tid, fields in data.get("threads", {}).items()}
    return Conversation(contact, threads, data.get("session", {}), data.get("sent", {}))


def save(rt: Runtime, conversation: Conversation) -> None:
    """Writes the conversation back; finished threads are kept a week, then forgotten, and so are
    messages of threads forgotten or older than the last SENT_KEPT."""
    now = time.time()
    threads = {t.id: {name: value for name, value in dataclasses.asdict(t).items() if name != "id"}
               for t in conversation.threads.values()
               if t.open or now - t.updated_at <= store.CLOSED_THREAD_KEEP_SECONDS}
    sent = [(wamid, tid) for wamid, tid in conversation.sent.items() if tid in threads][-SENT_KEPT:]
    value = zlib.compress(json.dumps({"threads": threads, "session": conversation.session, "sent": dict(sent)},
                                     ensure_ascii=False, separators=(",", ":")).encode())
    rt.redis.set(store.conversation_key(conversation.contact), value, ex=store.CONVERSATION_TTL)


@contextlib.contextmanager
def locked(rt: Runtime, contact: str) -> Iterator[Conversation]:
    """The contact's conversation, for code outside the contact's inbox (notifications): the same
    lock the inbox worker holds, so a thread is never opened and answered at the same moment."""
    lock = rt.redis.lock(store.contact_lock_key(contact), timeout=store.CONTACT_LOCK_TTL,
                         blocking_timeout=LOCK_WAIT_SECONDS)
    if not lock.acquire():
        raise TimeoutError(f"contact {contact} stayed locked")
    try:
        conversation = load(rt, contact)
        yield conversation
        save(rt, conversation)
    finally:
        with contextlib.suppress(Exception):
            lock.release()
