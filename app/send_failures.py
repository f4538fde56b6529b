"""What follows a send Meta refused, in the send's answer or later in a `failed` status: one job
for both, reading Meta's code in one table (app.whatsapp.errors.WHAT_TO_DO).

Each follow-up is sent under a key of its own, derived from the send's (`#template`, `#later`,
`#again`), so a job run twice sends it once and a follow-up that fails in turn is not followed
up again but parked: nothing loops, nothing is dropped."""
from __future__ import annotations

import logging
import time
from typing import Any

from app import delivery, keyspace, outbound, pace, parked, queues, reach, runtime
from app.directory import Contact
from app.events import described
from app.runtime import Runtime
from app.whatsapp import errors, messages
from conversations import identity, say

log = logging.getLogger(__name__)
RETRY_LATER_SECONDS = 4 * 3600  # Meta's per-user limits lift after hours, not minutes
TEMPLATE, LATER, AGAIN = "#template", "#later", "#again"
FOLLOW_UPS = (TEMPLATE, LATER, AGAIN)


def act(payload: dict[str, Any], key: str, fallback: dict[str, Any] | None, failure: dict[str, Any]) -> None:
    """A job: does what Meta's code says for the send under `key` that failed with `failure`
    ({code, title, details})."""
    rt = runtime.current()
    what = errors.action(failure.get("code"))
    followed = key.endswith(FOLLOW_UPS)
    log.info("send %s failed (%s): %s", key, failure.get("code"), what.value)
    if what is errors.Action.RESEND_AS_TEMPLATE and fallback is not None and not followed:
        outbound.deliver(rt, fallback, key + TEMPLATE)
    elif what is errors.Action.RETRY_HOURS_LATER and not followed:
        rt.queues.enqueue_at(queues.OUTBOUND, time.time() + RETRY_LATER_SECONDS, queues.SEND_MESSAGE, payload,
                             key + LATER, fallback, job_id=f"later-{keyspace.digest(key)}")
    elif what is errors.Action.PACE and not followed:
        pace.spend(rt, messages.address_of(payload))  # every message to them waits its turn, this one too
        rt.queues.enqueue_at(queues.OUTBOUND, time.time() + pace.PAIR_INTERVAL_SECONDS, queues.SEND_MESSAGE,
                             payload, key + AGAIN, fallback, job_id=f"paced-{keyspace.digest(key)}")
    elif what is errors.Action.RETRY and not followed:
        outbound.deliver(rt, payload, key + AGAIN, fallback)
    else:
        if what is errors.Action.TELL_OWNER:
            _tell_owner(rt, messages.address_of(payload), key, failure)
        parked.park(rt.redis, "send", reason(failure), {"payload": payload, "key": key},
                    item_id=f"send-{keyspace.digest(key)}")


def reason(failure: dict[str, Any]) -> str:
    """Meta's code, title and details in one line, for the parked list and the owner."""
    parts = [str(failure.get("code") or "error"), str(failure.get("title") or ""), str(failure.get("details") or "")]
    return ": ".join(p for p in parts if p)


def _tell_owner(rt: Runtime, phone: str, key: str, failure: dict[str, Any]) -> None:
    """The person responsible for what the message was about hears that its recipient cannot be
    reached: the alert's owner, the case's assignee, else the support group."""
    event = delivery.stored_event(rt, delivery.purpose_of(key))
    person = identity.person(rt, phone)
    name = person.name if person is not None else phone
    handle = identity.username(rt, person.phone) if person is not None else None
    name = f"{name} ({handle})" if handle else name
    partner = rt.directory.partner_of(person).name if isinstance(person, Contact) else ""
    about = (described.about(event) or event.type) if event is not None else key
    case_id = getattr(event, "case_id", None)
    for staff in reach.owners(rt, str(case_id) if case_id else None, getattr(event, "owner_id", None)):
        body = say.text(staff.language, "unreachable", name=name, partner=partner or phone, about=about,
                        reason=reason(failure))
        outbound.deliver(rt, messages.text(staff.phone, body), f"unreachable:{key}:{staff.id}")
