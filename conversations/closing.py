"""`case.closed`: every open thread of the case ends, for its partner's contacts and for staff.
Nobody is messaged, except a partner contact who was in the middle of a question about it (a
change said back, files waiting for Confirm): they hear that the case was closed and that nothing
of it was saved."""
from __future__ import annotations

import logging
import time

from app import outbound
from app.directory import Contact
from app.events.types import CaseClosed
from app.runtime import Runtime
from app.tradinggrid import cases
from app.whatsapp import messages
from conversations import case_people, identity, say, threads
from conversations.flows.catalog import FLOWS

log = logging.getLogger(__name__)


def close(rt: Runtime, event: CaseClosed) -> None:
    partner = rt.directory.partners.get(event.partner_id)
    case = cases.read(rt.tradinggrid, event.case_id)
    named = case.reference if case is not None and case.reference else None
    people = [*(partner.contacts if partner else ()), *rt.directory.staff.values()]
    for person in people:
        with threads.locked(rt, person.phone) as conversation:
            ended = [t for t in conversation.open_threads() if case_people.of_case(t, event.case_id)]
            asking = [t for t in ended if FLOWS[t.flow].awaits(t, "confirm")]
            for thread in ended:
                thread.state = "cancelled"
                thread.updated_at = time.time()
            if asking and isinstance(person, Contact):
                reference = named or asking[0].slots.get("reference") or event.case_id
                body = say.text(person.language, "case_closed_pending", case_id=event.case_id, reference=reference)
                outbound.deliver(rt, messages.text(identity.address(rt, person.phone), body),
                                 f"event:{event.id}:{person.phone}")
        if ended:
            log.info("case %s closed: %d thread(s) of %s ended", event.case_id, len(ended), person.name)
