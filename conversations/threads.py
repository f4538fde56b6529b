"""A contact's conversation: its threads (one per case, schedule, alert, ...) and session, kept
as JSON in Redis and always loaded, changed and saved under the contact's lock."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

from app import store
from app.runtime import Runtime

FINAL_STATES = frozenset({"done", "cancelled"})
LOCK_WAIT_SECONDS = 10


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
    sent: dict[str, str] = dataclasses.field(default_factory=dict)  # wamid -> thread id, new this turn

    def open_threads(self) -> list[Thread]:
        return sorted((t for t in self.threads.values() if t.open), key=lambda t: t.opened_at)


def load(rt: Runtime, contact: str) -> Conversation:
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hgetall(store.threads_key(contact))
    pipe.get(store.session_key(contact))
    raw_threads, raw_session = pipe.execute()
    threads = {}
    for raw in raw_threads.values():
        data = json.loads(raw)
        threads[data["id"]] = Thread(**data)
    return Conversation(contact, threads, json.loads(raw_session) if raw_session else {})


def save(rt: Runtime, conversation: Conversation) -> None:
    """Writes the conversation back; finished threads are kept a week, then forgotten."""
    now = time.time()
    key, contact = store.threads_key(conversation.contact), conversation.contact
    stale = [t.id for t in conversation.threads.values()
             if not t.open and now - t.updated_at > store.CLOSED_THREAD_KEEP_SECONDS]
    pipe = rt.redis.pipeline(transaction=True)
    if conversation.threads:
        pipe.hset(key, mapping={t.id: json.dumps(dataclasses.asdict(t), ensure_ascii=False)
                                for t in conversation.threads.values()})
    if stale:
        pipe.hdel(key, *stale)
    pipe.expire(key, store.CONVERSATION_TTL)
    pipe.set(store.session_key(contact), json.dumps(conversation.session), ex=store.CONVERSATION_TTL)
    if conversation.sent:
        pipe.hset(store.context_key(contact), mapping=conversation.sent)
        pipe.expire(store.context_key(contact), store.CONVERSATION_TTL)
    pipe.execute()
    conversation.sent = {}


def thread_of_message(rt: Runtime, contact: str, wamid: str) -> str | None:
    found = rt.redis.hget(store.context_key(contact), wamid)
    return found.decode() if found else None


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
