"""People in the loop, as chats with two partners and two staff: comments written in Trading
Grid reach the right phones (and never the wrong ones), staff answer partners from WhatsApp, and
a closed case ends its threads."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings
from tests.chat import Chat, event
from tests.clock import time_passes
from tests.conftest import FIXTURES, make_settings
from tests.test_conversations import JANA, MARIA, RAVI, UNA, exception_logged, new_case

KARL = "4915133334444"  # ACME, roles documents (notify_directory.yaml)


@pytest.fixture
def settings(tmp_path: Path, graph, tradinggrid_url: str) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, graph.url, tradinggrid_url, DIRECTORY_FILE=str(FIXTURES / "notify_directory.yaml"))


def commented(client, work, case: dict, body: str, visibility: str = "partner",  # type: ignore[no-untyped-def]
              author: dict | None = None) -> dict:
    return event(client, work, "comment.added", case_id=case["id"], partner_id=case["partner_id"],
                 comment_id="CMT-1", body=body, visibility=visibility,
                 author=author or {"kind": "staff", "id": "u.smith", "name": "Una Smith"},
                 thread_url=f"https://tg.example.com/cases/{case['id']}")


def comments(grid, case: dict) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(c["author"]["name"], c["body"]) for c in grid.audit(case["id"])["comments"]]


def test_a_partner_comment_reaches_the_contacts_in_the_cases_thread_and_their_answer_comes_back(
        client, work, graph, grid) -> None:
    case = new_case(grid, partner="ACME", reference="PO-778812")
    exception_logged(client, work, case)  # Jana (exceptions) is in the case's thread; Karl (documents) is not
    jana, karl, una = (Chat(client, work, graph, p) for p in (JANA, KARL, UNA))
    commented(client, work, case, "Can you confirm the container number?")  # Jana has not written today
    assert jana.last == (f"[tgwa_comment] Una Smith (support) | {case['id']} | Can you confirm the container number? | "
                         f"https://tg.example.com/cases/{case['id']}")
    assert karl.bot == [] and una.bot == [], "not the other contact, never the author"
    jana.says("MSCU 1234567, wie besprochen", reply_to=jana.last_message_id())
    assert jana.last == f'Als Ihren Kommentar zu {case["id"]} hinzufügen: "MSCU 1234567, wie besprochen"?'
    assert ("Jana Weber", "MSCU 1234567, wie besprochen") not in comments(grid, case), "not before Confirm"
    jana.taps("Bestätigen")
    assert ("Jana Weber", "MSCU 1234567, wie besprochen") in comments(grid, case)
    assert una.last.startswith(f"[tgwa_comment] Jana Weber (Acme Logistics GmbH) | {case['id']} | MSCU 1234567")


def test_an_internal_comment_reaches_only_the_assignee_and_never_a_partner(client, work, graph, grid) -> None:
    case = new_case(grid, partner="ACME", reference="PO-778812", assignee="r.patel")
    exception_logged(client, work, case)
    jana, una, ravi = (Chat(client, work, graph, p) for p in (JANA, UNA, RAVI))
    ravi.says("my cases")  # Ravi is on WhatsApp today
    before = len(jana.bot)
    commented(client, work, case, "Partner is on credit hold, do not promise dates", visibility="internal")
    assert ravi.last.startswith(f'Internal comment on {case["id"]} from Una Smith (support): "Partner is on credit')
    assert len(jana.bot) == before and una.bot == [], "never a partner, never the author"


def test_staff_reply_reaches_the_partner_with_who_wrote_and_lands_as_a_staff_comment(client, work, graph, grid) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria, una = Chat(client, work, graph, MARIA), Chat(client, work, graph, UNA)
    maria.says("any news?")  # both are on WhatsApp today
    una.says(f"reply {case['id']} We can take the Friday slot if you confirm today")
    assert maria.last.startswith(f'Una Smith (support) on {case["id"]}: "We can take the Friday slot')
    assert una.last == f"Sent to Maria Lopez, and on {case['id']} as your comment."
    assert ("Una Smith", "We can take the Friday slot if you confirm today") in comments(grid, case)
    maria.says("Friday works", reply_to=maria.last_message_id())
    maria.taps("Confirm")
    assert una.last.startswith(f'Maria Lopez (Globex Freight Inc.) answered on {case["id"]}: "Friday works"')
    assert ("Maria Lopez", "Friday works") in comments(grid, case)
    una.says("Great, booked", reply_to=una.last_message_id())  # answering right there, by replying
    assert maria.last.startswith(f'Una Smith (support) on {case["id"]}: "Great, booked"')


def test_a_partner_may_not_use_reply(client, work, graph, grid) -> None:
    case = new_case(grid, partner="ACME", reference="PO-778812")
    maria = Chat(client, work, graph, MARIA)
    jana = Chat(client, work, graph, JANA)
    maria.says(f"reply {case['id']} give me the other partner's case")
    assert maria.last == "Only staff can use reply. To add to a case, just answer its message here."
    assert jana.bot == [] and comments(grid, case) == []


def test_a_staff_members_other_messages_never_reach_a_partner(client, work, graph, grid) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria, una = Chat(client, work, graph, MARIA), Chat(client, work, graph, UNA)
    commented(client, work, case, "Please check", visibility="internal")  # Una is the assignee: a relay thread
    before = len(maria.bot)
    una.says("lunch at 1?")  # not quoting the notification: not for the partner
    assert len(maria.bot) == before


def test_a_closed_case_ends_its_threads_and_tells_who_was_confirming(client, work, graph, grid) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria = Chat(client, work, graph, MARIA)
    maria.says("can do 12/3/2027")
    assert maria.buttons() == ["Confirm", "Change", "Cancel"]
    event(client, work, "case.closed", case_id=case["id"], partner_id="GLOBEX", resolution="Delivered",
          thread_url=f"https://tg.example.com/cases/{case['id']}")
    assert maria.last == (f"{case['id']} (PO-4410093) was closed in Trading Grid, so nothing was saved of what we "
                          "were confirming.")
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] is None, "nothing written after the close"
    assert "already" in maria.last or "no longer" in maria.last


def test_a_closed_case_with_nothing_pending_messages_nobody(client, work, graph, grid) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    sent = len(graph.sent)
    event(client, work, "case.closed", case_id=case["id"], partner_id="GLOBEX",
          thread_url=f"https://tg.example.com/cases/{case['id']}")
    assert len(graph.sent) == sent


def test_a_hand_off_reaches_the_cases_owner_who_answers_right_there(client, work, graph, grid) -> None:
    case = new_case(grid, issue="invoice_mismatch")  # assigned to u.smith (a delay offers days to pick first)
    exception_logged(client, work, case)
    maria, una, ravi = (Chat(client, work, graph, p) for p in (MARIA, UNA, RAVI))
    una.says("my cases")
    for words in ("hello?", "blue", "hmm"):
        maria.says(words, reply_to=graph.wamids[0])
    assert "call you back" in maria.last and len(grid.audit()["tasks"]) == 1
    assert una.last == (f'Maria Lopez (Globex Freight Inc.) needs a person on {case["id"]}; the bot could not place: '
                        '"hello?" / "blue" / "hmm". Reply to this message to answer them.')
    assert ravi.bot == [], "the owner, not the whole support group"
    una.says("Hi Maria, I'll call you in 5 minutes", reply_to=una.last_message_id())
    assert maria.last.startswith(f'Una Smith (support) on {case["id"]}: "Hi Maria, I\'ll call you in 5 minutes"')


def test_a_hand_off_with_no_case_reaches_the_support_group(client, work, graph, grid) -> None:
    maria, una, ravi = (Chat(client, work, graph, p) for p in (MARIA, UNA, RAVI))
    for words in ("hello?", "the weather is nice", "blue"):
        maria.says(words)
    assert una.last == ravi.last == ('[tgwa_handoff] Maria Lopez | Globex Freight Inc. | no case yet | '
                                     '"hello?" / "the weather is nice" / "blue"'), "outside their window: the template"
    una.says("Hi Maria, Una here: which shipment is it?", reply_to=una.last_message_id())
    assert maria.last == 'Una Smith (support): "Hi Maria, Una here: which shipment is it?"'
    assert una.last == "Sent to Maria Lopez."


def test_take_pauses_the_bot_passes_the_partner_on_and_release_hands_back(client, work, graph, grid, rt) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria, una = Chat(client, work, graph, MARIA), Chat(client, work, graph, UNA)
    maria.says("hello")  # both on WhatsApp today
    una.says(f"take {case['id']}")
    assert una.last.startswith(f"You hold {case['id']}")
    assert maria.last == f"Una Smith (support) is now looking after {case['id']} personally: your messages about it go straight to them."
    maria.says("can do 12/3/2027", reply_to=graph.wamids[0])  # no "Is that right?": a person has it
    assert maria.last == f"Passed on to Una Smith, on {case['id']}."
    assert ("Maria Lopez", "can do 12/3/2027") in comments(grid, case)
    assert grid.get_case(case["id"])["expected_date"] is None, "the bot writes nothing of its own"
    assert una.last.startswith(f'Maria Lopez (Globex Freight Inc.) answered on {case["id"]}: "can do 12/3/2027"')
    una.says("Thanks, noted for the 3rd", reply_to=una.last_message_id())
    assert maria.last.startswith(f'Una Smith (support) on {case["id"]}: "Thanks, noted for the 3rd"')
    page = client.get("/ops", headers={"Accept": "application/json"}).get_json()
    assert [(h["case_id"], h["staff_id"]) for h in page["holds"]] == [(case["id"], "u.smith")]
    una.says(f"release {case['id']}")
    assert una.last == f"{case['id']} is handed back to the assistant."
    assert maria.last == f"Una Smith (support) has handed {case['id']} back to the assistant. Reply here as before."
    maria.says("can do 12/4/2027", reply_to=graph.wamids[0])
    assert maria.last.startswith("New delivery date for PO-4410093: Sat 4 Dec 2027")


def test_a_held_case_goes_back_to_the_bot_after_24_hours_of_silence(client, work, graph, grid, rt) -> None:
    case = new_case(grid)
    una = Chat(client, work, graph, UNA)
    una.says(f"take {case['id']}")
    time_passes(rt, work)  # a day without a message either way
    assert una.last == f"{case['id']} was handed back to the assistant after 24 hours without a message."
    assert client.get("/ops", headers={"Accept": "application/json"}).get_json()["holds"] == []


def test_a_partner_may_not_take_a_case(client, work, graph, grid) -> None:
    case = new_case(grid)
    maria = Chat(client, work, graph, MARIA)
    maria.says(f"take {case['id']}")
    assert maria.last == "Only staff can use take."
    una = Chat(client, work, graph, UNA)
    una.says(f"release {case['id']}")
    assert una.last == f"{case['id']} is not held by you."
