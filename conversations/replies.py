"""Staff write to a partner about a case from WhatsApp: `reply CASE-1042 <text>`, or by answering
a notification about the case (a partner's comment, a hand-off). The words land on the case as
the staff member's comment and reach the partner contacts in the case's thread as a `comment.added`
of their own (app.notifications), so a partner's answer comes back the same way."""
from __future__ import annotations

import re

from app import outbound
from app.directory import Contact
from app.reach import reachable_among
from app.tradinggrid import cases
from app.tradinggrid.bodies import NewComment
from app.whatsapp import messages
from conversations import case_people, holding, identity, say
from conversations.turn import Turn

# "reply CASE-1042 text", in the languages the prompts speak ("antwort", "responder", "répondre").
COMMAND = re.compile(r"^\s*(?:reply|antwort(?:en)?|responder|r[ée]pondre|responde)\s+(\S+)\s*[:,-]?\s*(.*)$",
                     re.IGNORECASE | re.DOTALL)


def command(text: str) -> tuple[str, str] | None:
    """The case and the words of a `reply` command, or None when the message is not one."""
    found = COMMAND.match(text)
    return (found.group(1).upper(), found.group(2).strip()) if found else None


def answer(turn: Turn, case_id: str, text: str) -> None:
    """A staff member's words to the partner of `case_id`: on the case, and on the partner's phone."""
    person = turn.person
    if isinstance(person, Contact):
        turn.reply(turn.say("reply_staff_only"))
        return
    if not text:
        turn.reply(turn.say("reply_usage", example="CASE-1042"))
        return
    case = turn.ask_grid(cases.read, case_id)
    if case is None:
        turn.reply(turn.say("reply_unknown_case", case_id=case_id))
        return
    written = turn.write(NewComment(case.id, text, turn.author(), turn.message.id), "staff_reply")
    if written is None:
        return  # refused: parked, and they were told
    turn.announce("comment.added", "reply", case_id=case.id, partner_id=case.partner_id, comment_id=turn.message.id,
                  body=text, author={"kind": "staff", "id": person.id, "name": person.name}, visibility="partner",
                  thread_url=case.thread_url or "")
    holding.touch(turn.rt, case.id)
    reached = reachable_among(turn.rt, case_people.in_thread(turn.rt, case.partner_id, case.id))
    names = ", ".join(c.name for c in reached)
    turn.reply(turn.say("reply_sent", names=names, case_id=case.id) if names else
               turn.say("reply_nobody", case_id=case.id))



def to_contact(turn: Turn, phone: str, text: str) -> None:
    """A staff member's words to a partner contact about no case yet (a hand-off): on their phone,
    signed; there is no case to write them on (the hand-off's task is the record)."""
    contact = turn.rt.directory.person(phone)
    if contact is None or not text:
        turn.reply(turn.say("reply_usage", example="CASE-1042"))
        return
    body = say.text(contact.language, "staff_message", author=case_people.signature(turn.rt, turn.person, ""),
                    body=text)
    outbound.deliver(turn.rt, messages.text(identity.address(turn.rt, contact.phone), body), f"{turn.key_base}:to")
    turn.reply(turn.say("reply_sent_direct", names=contact.name))
