"""Where an inbound message goes: system notices, unknown numbers, and known people."""
from __future__ import annotations

import logging

from app import outbound
from app.runtime import Runtime
from app.whatsapp import errors, messages
from app.whatsapp.inbound import InboundMessage
from conversations import identity

log = logging.getLogger(__name__)
# Nothing a person expects an answer to: reactions, revoked or edited messages, orders we
# do not take, and notices about the account itself.
SILENT_TYPES = frozenset({"reaction", "revoke", "edit", "order", "system", "request_welcome"})

UNKNOWN_NUMBER = ("Hello! This is the Trading Grid assistant. This number is not registered with us, "
                  "so I can't help with cases or orders here. Please ask your Trading Grid contact to add it.")
GREETING = ("Hi {name}, this is the Trading Grid assistant. I'll message you here about cases, documents, "
            "orders and alerts; just reply to those messages to answer. Staff can ask \"status CASE-1042\" "
            "or \"my cases\". Send STOP to stop messages, HELP for help.")


def handle(rt: Runtime, message: InboundMessage) -> None:
    if message.type == "system":
        if (message.system or {}).get("type") == "user_changed_number":
            identity.apply_number_change(rt, message)
        return
    if message.type in SILENT_TYPES:
        return
    _mark_read(rt, message)
    who = identity.person(rt, message.sender)
    body = UNKNOWN_NUMBER if who is None else GREETING.format(name=who.name.split()[0] or who.name)
    outbound.deliver(rt, messages.text(message.sender, body, reply_to=message.id), f"reply:{message.id}")


def _mark_read(rt: Runtime, message: InboundMessage) -> None:
    """Blue ticks are a courtesy: a failure here must not hold up the answer."""
    try:
        rt.whatsapp.mark_read(message.id)
    except errors.GraphError as exc:
        log.info("could not mark %s read: %s", message.id, exc)
