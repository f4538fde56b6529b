"""Who is writing: a directory person by WhatsApp number, following numbers people changed."""
from __future__ import annotations

from app import keyspace
from app.directory import Contact, Staff
from app.runtime import Runtime
from app.whatsapp.inbound import InboundMessage
from conversations import threads


def person(rt: Runtime, sender: str) -> Contact | Staff | None:
    """The directory person behind `sender`, also after a `user_changed_number`."""
    found = rt.directory.person(sender)
    if found is None:
        moved_from = rt.redis.hget(keyspace.MOVED_NUMBERS, sender)
        if moved_from:
            found = rt.directory.person(moved_from.decode())
    return found


def apply_number_change(rt: Runtime, message: InboundMessage) -> None:
    """`user_changed_number`: the new number speaks for whoever the old one did."""
    new = (message.system or {}).get("new_wa_id")
    if not new or new == message.sender:
        return
    known_as = rt.redis.hget(keyspace.MOVED_NUMBERS, message.sender)
    rt.redis.hset(keyspace.MOVED_NUMBERS, new, known_as.decode() if known_as else message.sender)
    conversation = threads.load(rt, message.sender)  # the open threads move with the person
    if conversation.threads or conversation.session:
        conversation.contact = new
        threads.save(rt, conversation)
        rt.redis.delete(keyspace.conversation_key(message.sender))
