"""Who talks about a case on WhatsApp: the partner's contacts whose conversation holds a thread
of it (else those with the `exceptions` role), never the one who wrote; and how a staff member
is named to a partner ("Una Smith (support)")."""
from __future__ import annotations

from app.directory import Contact, Staff
from app.runtime import Runtime
from conversations import threads


def of_case(thread: threads.Thread, case_id: str) -> bool:
    """Whether a thread is about the case: its own case, or the case its files go to."""
    target = thread.slots.get("target")
    return thread.slots.get("case_id") == case_id or (isinstance(target, dict) and target.get("case_id") == case_id)


def in_thread(rt: Runtime, partner_id: str, case_id: str, author_phone: str | None = None) -> list[Contact]:
    """The partner contacts in the case's thread, else those with the `exceptions` role (else all),
    leaving out `author_phone` (a comment never goes back to who wrote it)."""
    partner = rt.directory.partners.get(partner_id)
    if partner is None:
        return []
    contacts = [c for c in partner.contacts if c.phone != author_phone]
    talking = [c for c in contacts if any(of_case(t, case_id) for t in threads.load(rt, c.phone).threads.values())]
    if talking:
        return talking
    return [c for c in contacts if "exceptions" in c.roles] or contacts


def signature(rt: Runtime, person: Staff | Contact | None, name: str) -> str:
    """How a writer is named: a staff member with their team, a partner contact with their company."""
    if isinstance(person, Staff):
        return f"{person.name} ({person.teams[0]})" if person.teams else person.name
    if isinstance(person, Contact):
        return f"{person.name} ({rt.directory.partners[person.partner_id].name})"
    return name
