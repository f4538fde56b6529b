"""Who is writing: a directory person by WhatsApp number or by Meta's business-scoped user id
(BSUID), following numbers and user ids people changed. The directory's phone is the anchor:
once a message has carried both a number and a user id, either finds the person, and replies go
by whichever Meta named them by last (`to` for a number, `recipient` for a user id)."""
from __future__ import annotations

import json
from typing import Any, Literal

from app import jsonsafe, keyspace, writebehind
from app.directory import Contact, Staff
from app.runtime import Runtime
from app.whatsapp.inbound import InboundMessage
from app.whatsapp.messages import is_phone


def person(rt: Runtime, sender: str) -> Contact | Staff | None:
    """The directory person behind `sender` (a number or a user id), also after a change of either."""
    found = rt.directory.person(sender)
    if found is None and not is_phone(sender):
        anchor = rt.redis.hget(keyspace.IDENTITIES, f"user:{sender}")
        sender = anchor.decode() if anchor else sender
        found = rt.directory.person(sender)
    if found is None:
        moved_from = rt.redis.hget(keyspace.MOVED_NUMBERS, sender)
        if moved_from:
            found = rt.directory.person(moved_from.decode())
    return found


def read(pipe: Any, phone: str) -> None:
    """Queues on `pipe` the reading of the ids kept for `phone` (for `note`)."""
    pipe.hget(keyspace.IDENTITIES, f"phone:{phone}")


def note(rt: Runtime, message: InboundMessage, who: Contact | Staff, stored: bytes | None | Literal[False] = False) -> None:
    """Remembers the ids this message named `who` by, and which one Meta used: one write, and
    only when something changed (in a drain's turn, with the round trip that ends it).
    `stored`: the ids kept for `who`, when read already."""
    field = f"phone:{who.phone}"
    before = _ids(rt.redis.hget(keyspace.IDENTITIES, field) if stored is False else stored)
    after = {**before, "by": "phone" if message.wa_id else "user"}
    if message.user_id:
        after["user_id"] = message.user_id
    if message.username:
        after["username"] = message.username
    if after == before:
        return
    mapping = {field: json.dumps(after)}
    if message.user_id:
        mapping[f"user:{message.user_id}"] = who.phone
    pending = writebehind.current()
    if pending is not None:
        pending.add(lambda pipe: pipe.hset(keyspace.IDENTITIES, mapping=mapping))
    else:
        rt.redis.hset(keyspace.IDENTITIES, mapping=mapping)


def address(rt: Runtime, phone: str) -> str:
    """Where to send to someone the directory knows by `phone`: the phone, unless Meta last named
    them only by their user id (a person who hides their number behind a username)."""
    ids = _ids(rt.redis.hget(keyspace.IDENTITIES, f"phone:{phone}"))
    return str(ids["user_id"]) if ids.get("by") == "user" and ids.get("user_id") else phone


def username(rt: Runtime, phone: str) -> str | None:
    """The WhatsApp username Meta gave for this person, if any (shown to staff)."""
    return _ids(rt.redis.hget(keyspace.IDENTITIES, f"phone:{phone}")).get("username")


def _ids(raw: bytes | None) -> dict[str, Any]:
    return jsonsafe.loads_stored(raw) if raw else {}


def apply_number_change(rt: Runtime, message: InboundMessage) -> None:
    """`user_changed_number`: the new number speaks for whoever the old one did (their
    conversation stays where it is, under the directory's phone)."""
    new = (message.system or {}).get("new_wa_id")
    if not new or new == message.sender:
        return
    known_as = rt.redis.hget(keyspace.MOVED_NUMBERS, message.sender)
    rt.redis.hset(keyspace.MOVED_NUMBERS, new, known_as.decode() if known_as else message.sender)


def apply_user_id_change(rt: Runtime, message: InboundMessage) -> None:
    """`user_changed_user_id`: the new user id speaks for whoever the old one did."""
    new = (message.system or {}).get("new_user_id")
    who = person(rt, message.user_id or message.sender)
    if not new or who is None:
        return
    ids = _ids(rt.redis.hget(keyspace.IDENTITIES, f"phone:{who.phone}"))
    rt.redis.hset(keyspace.IDENTITIES, mapping={f"user:{new}": who.phone,
                                                f"phone:{who.phone}": json.dumps({**ids, "user_id": new})})
