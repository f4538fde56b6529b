"""Conversation stories: the partner says X, the bot answers Y, Trading Grid holds Z. Each runs
through the real webhooks, the worker, Redis and the HTTP Trading Grid adapter against a loopback
Trading Grid (the `grid` fixture is what that server stores)."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from app import keyspace, localtime
from conversations.flows.days import working_days
from tests.chat import Chat, event
from tests.clock import time_passes

MARIA = "14155550134"      # GLOBEX (US), English, role exceptions
JANA = "4915123456789"     # ACME (DE), German, roles exceptions/documents/onboarding
OTTO = "4915111112222"     # ACME, not opted in
UNA = "447700900123"       # staff u.smith, support
RAVI = "447700900456"      # staff r.patel, support


def new_case(grid, partner: str = "GLOBEX", reference: str = "PO-4410093", issue: str = "shipment_delay",
             assignee: str = "u.smith") -> dict:  # type: ignore[no-untyped-def]
    return grid.create_case({"partner_id": partner, "issue_type": issue, "reference": reference,
                             "summary": "Truck broke down near Reno"}, idempotency_key=f"seed-{reference}",
                            assignee_id=assignee)


def exception_logged(client, work, case: dict, **extra):  # type: ignore[no-untyped-def]
    return event(client, work, "exception.logged", case_id=case["id"], partner_id=case["partner_id"],
                 issue_type=case["issue_type"], reference=case["reference"], summary=case["summary"],
                 thread_url=f"https://tg.example.com/cases/{case['id']}", **extra)


@pytest.fixture
def maria(client, work, graph) -> Chat:  # type: ignore[no-untyped-def]
    return Chat(client, work, graph, MARIA)


def next_day_of_month(day: int, today: dt.date) -> dt.date:
    for months in range(3):
        year, month = today.year + (today.month - 1 + months) // 12, (today.month - 1 + months) % 12 + 1
        try:
            found = dt.date(year, month, day)
        except ValueError:
            continue
        if found >= today:
            return found
    raise AssertionError("unreachable")


# -- exception clarification ------------------------------------------------------------------
def test_a_new_date_is_said_back_confirmed_and_written_once(client, work, graph, grid, maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    assert maria.last == ("[tgwa_exception_logged] Shipment delay | PO-4410093 | Truck broke down near Reno | "
                          f"https://tg.example.com/cases/{case['id']}")  # a template: she never wrote

    maria.says("truck broke down, can deliver 12/3/2027")
    assert maria.last == "New delivery date for PO-4410093: Fri 3 Dec 2027. Is that right?"
    assert maria.buttons() == ["Confirm", "Change", "Cancel"]
    assert grid.get_case(case["id"])["expected_date"] is None, "nothing is written before confirmation"

    tap = maria.taps("Confirm")
    assert maria.last == "Thanks Maria! PO-4410093 now shows Fri 3 Dec 2027 in Trading Grid."
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
    [comment] = grid.audit(case["id"])["comments"]
    assert comment["body"] == "truck broke down, can deliver 12/3/2027 — Maria Lopez via WhatsApp"
    assert comment["author"] == {"kind": "partner_contact", "id": MARIA, "name": "Maria Lopez", "phone": "+" + MARIA}
    assert comment["source"] == "whatsapp" and comment["wa_message_id"] == tap


def test_an_edited_date_while_the_confirmation_waits_is_a_correction(client, work, graph, grid, maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    first = maria.says("can deliver 12/3/2027")
    assert maria.last == "New delivery date for PO-4410093: Fri 3 Dec 2027. Is that right?"
    maria.edits(first, "can deliver 12/4/2027")
    assert maria.last == "New delivery date for PO-4410093: Sat 4 Dec 2027. Is that right?"
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-04"
    replies = len(maria.bot)
    maria.edits(first, "can deliver 12/9/2027")  # settled: an edit now changes nothing
    assert len(maria.bot) == replies and grid.get_case(case["id"])["expected_date"] == "2027-12-04"


def test_typing_yes_counts_as_confirm_and_a_redelivered_tap_writes_nothing_twice(client, work, graph, grid, maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can do 12/5/2027")
    maria.says("yess")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-05"
    replies = len(maria.bot)
    maria.says("yes")  # the thread is done: nothing more to confirm
    assert len(grid.audit(case["id"])["comments"]) == 1
    assert len(maria.bot) == replies + 1


def test_a_correction_mid_way_replaces_the_proposal(client, work, graph, grid, maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can do 12/3/2027")
    maria.says("no, the 4th")
    fourth = next_day_of_month(4, today=localtime.local_date(MARIA, maria.last_ts))  # her day when she wrote
    assert maria.last == f"New delivery date for PO-4410093: {fourth:%a} {fourth.day} {fourth:%b} {fourth.year}. Is that right?"
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] == fourth.isoformat()


def test_cancel_writes_nothing(client, work, graph, grid, maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("12/3/2027")
    maria.taps("Cancel")
    assert maria.last == "OK, cancelled. Nothing was changed in Trading Grid."
    assert grid.get_case(case["id"])["expected_date"] is None
    assert grid.audit(case["id"])["comments"] == []


def test_a_change_left_unconfirmed_for_a_day_is_dropped_and_she_is_told_when_she_writes(client, work, graph, grid, rt,
                                                                                         maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can do 12/3/2027")
    assert maria.last.endswith("Is that right?")
    told = len(maria.bot)
    time_passes(rt, work)  # a day goes by without an answer
    assert len(maria.bot) == told, "nobody is woken in the night for it"
    maria.says("yes")
    assert maria.bot[told:] == ["I didn't hear back about PO-4410093 within 24 hours, so nothing was saved. "
                                "Send it again whenever you're ready."]
    assert grid.get_case(case["id"])["expected_date"] is None, "the old 'yes' confirms nothing"
    maria.says("can do 12/4/2027")  # the thread is still hers to answer
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-04"


def test_a_change_confirmed_in_time_is_left_alone_when_its_day_is_up(client, work, graph, grid, rt, maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can do 12/3/2027")
    maria.says("no, 12/5/2027")  # a correction: waiting again, from now
    maria.taps("Confirm")
    time_passes(rt, work)
    maria.says("status " + case["id"])
    assert not any("24 hours" in line for line in maria.bot)
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-05"


def test_a_missing_reference_is_added_to_the_case(client, work, graph, grid, maria) -> None:
    case = new_case(grid, reference="INV-2024-5561", issue="invoice_mismatch")
    maria.says("hi")  # she wrote within 24 hours: the notification is interactive
    exception_logged(client, work, case)
    assert "missing PO or invoice number" in maria.last and maria.buttons() == ["Add reference"]
    maria.says("the right invoice number is 90017734")
    assert maria.last == "INVOICE 90017734 for INV-2024-5561. Is that right?"
    maria.taps("Confirm")
    assert [(r["kind"], r["value"]) for r in grid.audit(case["id"])["references"]] == [("invoice", "90017734")]
    assert len(grid.audit(case["id"])["comments"]) == 1


def test_the_german_contact_reads_german_buttons_and_all(client, work, graph, grid) -> None:
    jana = Chat(client, work, graph, JANA)
    case = new_case(grid, partner="ACME", reference="PO-778812")
    exception_logged(client, work, case)
    jana.says("Lieferung am 03.12.2027")
    assert jana.last == "Neuer Liefertermin für PO-778812: Fr 3. Dez 2027. Stimmt das?"
    assert jana.buttons() == ["Bestätigen", "Ändern", "Abbrechen"]
    jana.taps("Bestätigen")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"


def test_two_open_cases_a_reference_or_a_list_decides(client, work, graph, grid, maria) -> None:
    first, second = new_case(grid, reference="PO-4410093"), new_case(grid, reference="PO-5520011")
    exception_logged(client, work, first)
    exception_logged(client, work, second)
    maria.says("PO 5520011: can do 12/6/2027")
    assert "PO-5520011" in maria.last
    maria.taps("Confirm")
    assert grid.get_case(second["id"])["expected_date"] == "2027-12-06"
    assert grid.get_case(first["id"])["expected_date"] is None

    third = new_case(grid, reference="PO-6630022")
    exception_logged(client, work, third)
    maria.says("can do 12/7/2027")
    assert maria.last == "Which one is this about?"
    maria.picks("PO-6630022")
    assert maria.last == "New delivery date for PO-6630022: Tue 7 Dec 2027. Is that right?"
    maria.taps("Confirm")
    assert grid.get_case(third["id"])["expected_date"] == "2027-12-07"


def test_a_reply_to_an_old_message_goes_to_that_messages_case(client, work, graph, grid, maria) -> None:
    first = new_case(grid, reference="PO-4410093")
    exception_logged(client, work, first)
    about_first = maria.last_message_id()
    exception_logged(client, work, new_case(grid, reference="PO-5520011"))
    maria.says("12/9/2027", reply_to=about_first)
    assert maria.last.startswith("New delivery date for PO-4410093")


def test_duplicates_change_nothing_and_an_overtaken_message_is_told(client, work, graph, grid, maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("12/3/2027", message_id="wamid.first")
    first = maria.last_ts
    asked = len(maria.bot)
    maria.says("12/3/2027", message_id="wamid.first", timestamp=first)  # Meta delivers it again
    assert len(maria.bot) == asked
    maria.says("12/9/2027", message_id="wamid.older", timestamp=first - 60)  # older, arrives late
    assert maria.last == ('Your message "12/9/2027" reached me only after your later ones, so I didn\'t act on it. '
                          "If it still matters, please send it again.")
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"


# -- revised schedule -----------------------------------------------------------------------------
def schedule_revised(client, work, case: dict):  # type: ignore[no-untyped-def]
    return event(client, work, "schedule.revised", case_id=case["id"], partner_id=case["partner_id"],
                 reference=case["reference"], proposed_date="2027-01-08", previous_date="2026-12-03",
                 thread_url=f"https://tg.example.com/cases/{case['id']}")


def test_accepting_a_revised_schedule_is_written_at_the_tap(client, work, graph, grid, maria) -> None:
    case = new_case(grid)
    schedule_revised(client, work, case)
    tap = maria.taps("accept")
    [ack] = grid.audit(case["id"])["acknowledgments"]
    assert (ack["subject_type"], ack["subject_id"], ack["response"]) == ("schedule", case["id"], "accepted")
    assert ack["wa_message_id"] == tap
    moment = dt.datetime.fromisoformat(ack["responded_at"].replace("Z", "+00:00"))
    assert int(moment.timestamp()) == int(tap.rsplit(".", 1)[1]), "the WhatsApp message's own time"
    assert maria.last == "Thanks Maria, the revised schedule for PO-4410093 (Fri 8 Jan 2027) is accepted in Trading Grid."


def test_typing_accept_is_the_same_as_tapping(client, work, graph, grid, maria) -> None:
    case = new_case(grid)
    schedule_revised(client, work, case)
    maria.says("ok, we accept")
    assert [a["response"] for a in grid.audit(case["id"])["acknowledgments"]] == ["accepted"]


def test_rejecting_with_another_date_becomes_a_task_for_the_owner(client, work, graph, grid, maria) -> None:
    case = new_case(grid, assignee="r.patel")
    schedule_revised(client, work, case)
    maria.says("we cannot accept, earliest is 1/12/2027")
    assert maria.last == "You propose Tue 12 Jan 2027 for PO-4410093. Shall I send it to the case owner?"
    maria.taps("Confirm")
    audit = grid.audit(case["id"])
    [task] = audit["tasks"]
    assert task["assignee_id"] == "r.patel" and "Tue 12 Jan 2027" in task["title"]
    assert [a["response"] for a in audit["acknowledgments"]] == ["rejected"]


def test_a_partner_who_accepted_a_schedule_can_still_come_back_to_it(client, work, graph, grid, maria) -> None:
    case = new_case(grid, assignee="r.patel")
    schedule_revised(client, work, case)
    notification = graph.wamids[-1]
    maria.taps("accept")
    maria.says("sorry, we can only do 1/14/2027 after all", reply_to=notification)
    assert maria.last == "You propose Thu 14 Jan 2027 for PO-4410093. Shall I send it to the case owner?"
    maria.taps("Confirm")
    audit = grid.audit(case["id"])
    assert [a["response"] for a in audit["acknowledgments"]] == ["accepted", "rejected"]
    [task] = audit["tasks"]
    assert "Thu 14 Jan 2027" in task["title"]
    grid.update_case(case["id"], {"status": "closed"}, idempotency_key="close")
    maria.says("and 1/15/2027?", reply_to=notification)
    assert len(grid.audit(case["id"])["tasks"]) == 1, "a closed case is not reopened"


def test_a_partner_who_cannot_put_the_other_date_in_words_picks_a_day(client, work, graph, grid, maria) -> None:
    case = new_case(grid, assignee="r.patel")
    schedule_revised(client, work, case)
    maria.taps("reject")
    maria.says("not sure yet")
    assert maria.last.startswith("Sorry, I didn't get that.")
    maria.says("whenever the truck is back")
    assert maria.last == "I couldn't read a date there. Which day can you deliver PO-4410093? Pick one, or type it."
    first = working_days(localtime.local_date(MARIA, time.time()), 5)[0]
    maria.picks(f"{first:%a} {first.day} {first:%b}")
    assert maria.last == (f"You propose {first:%a} {first.day} {first:%b} {first.year} for PO-4410093. "
                          "Shall I send it to the case owner?")
    maria.taps("Confirm")
    [task] = grid.audit(case["id"])["tasks"]
    assert task["assignee_id"] == "r.patel" and f"{first:%a} {first.day} {first:%b} {first.year}" in task["title"]


# -- acknowledgments ------------------------------------------------------------------------------
def test_an_alert_is_acknowledged_with_one_tap(client, work, graph, grid) -> None:
    jana = Chat(client, work, graph, JANA)
    event(client, work, "alert.broadcast", alert_id="AL-7", category="port_closure", severity="critical",
          title="Port of Hamburg closed", message="Storm surge, expect 48h delays",
          targeting={"regions": ["emea"]}, requires_ack=True)
    jana.taps("acknowledge")
    [ack] = grid.audit("AL-7")["acknowledgments"]
    assert (ack["subject_type"], ack["response"]) == ("alert", "acknowledged")


def test_a_thumbs_up_on_an_alert_is_its_acknowledgment_and_other_reactions_are_not(client, work, graph, grid) -> None:
    jana = Chat(client, work, graph, JANA)
    event(client, work, "alert.broadcast", alert_id="AL-8", category="port_closure", severity="critical",
          title="Port of Hamburg closed", message="Storm surge, expect 48h delays",
          targeting={"regions": ["emea"]}, requires_ack=True)
    alert, told = jana.last_message_id(), len(jana.bot)
    jana.reacts("😮", to=alert)
    assert len(jana.bot) == told and grid.audit("AL-8")["acknowledgments"] == [], "a gasp acknowledges nothing"
    jana.reacts("👍🏽", to=alert)
    [ack] = grid.audit("AL-8")["acknowledgments"]
    assert (ack["subject_type"], ack["response"]) == ("alert", "acknowledged")
    assert jana.bot[told:] == ['Danke Jana, Ihre Kenntnisnahme von "Port of Hamburg closed" ist vermerkt.']
    jana.reacts("✅", to=alert)  # again: already acknowledged, nothing more is written or said
    assert len(grid.audit("AL-8")["acknowledgments"]) == 1 and len(jana.bot) == told + 1


def test_staff_acknowledge_an_assignment_and_a_document(client, work, graph, grid) -> None:
    ravi = Chat(client, work, graph, RAVI)
    event(client, work, "case.assigned", case_id="CASE-1042", assignee_id="r.patel", summary="Delay on PO-778812",
          thread_url="https://tg.example.com/cases/CASE-1042")
    ravi.says("got it")
    assert [a["response"] for a in grid.audit("CASE-1042")["acknowledgments"]] == ["acknowledged"]
    una = Chat(client, work, graph, UNA)
    event(client, work, "document.uploaded", document_id="DOC-9", partner_id="ACME", document_type="packing_list",
          document_name="PL-ACME-77.pdf", approver_id="u.smith", url="https://tg.example.com/docs/DOC-9")
    una.taps("received")
    assert una.last == "Thanks Una, recorded that you've received PL-ACME-77.pdf."
    assert [a["response"] for a in grid.audit("DOC-9")["acknowledgments"]] == ["received"]


def test_onboarding_done_or_remind_me_tomorrow(client, work, graph, grid, rt) -> None:
    jana = Chat(client, work, graph, JANA)
    event(client, work, "onboarding.pending", partner_id="ACME", action="contract_review",
          url="https://tg.example.com/onboarding")
    jana.says("remind me tomorrow")
    assert grid.audit("ACME:contract_review")["acknowledgments"] == []
    jana.taps("done")
    assert [a["response"] for a in grid.audit("ACME:contract_review")["acknowledgments"]] == ["done"]


def test_a_requested_document_uploaded(client, work, graph, grid) -> None:
    jana = Chat(client, work, graph, JANA)
    event(client, work, "document.requested", partner_id="ACME", document_type="packing_list",
          url="https://tg.example.com/docs/new", case_id="CASE-1042")
    jana.says("hochgeladen")
    assert [(a["subject_type"], a["response"]) for a in grid.audit("CASE-1042")["acknowledgments"]] == [
        ("document", "done")]


# -- a new problem, unprompted --------------------------------------------------------------------
def test_a_partner_reports_a_new_problem(client, work, graph, grid, maria) -> None:
    maria.says("shipment SH-99812 stuck at customs")
    assert maria.last == "I'll open a shipment delay case for SH-99812: \"shipment SH-99812 stuck at customs\". Shall I?"
    maria.taps("Confirm")
    [case] = grid.list_cases(partner_id="GLOBEX")
    assert (case["issue_type"], case["reference"]) == ("shipment_delay", "SH-99812"), "as she wrote it"
    assert maria.last == f"Thanks Maria, case {case['id']} is open for SH-99812. We'll be in touch."


def test_a_new_problem_without_reference_asks_for_it(client, work, graph, grid, maria) -> None:
    maria.says("our truck is delayed")
    assert maria.last == "Sorry to hear that. Which PO, invoice or shipment is it about?"
    maria.says("PO 4500012345")
    assert maria.last.startswith("I'll open a shipment delay case for PO 4500012345")
    maria.says("yes")
    assert grid.list_cases(partner_id="GLOBEX")[0]["reference"] == "PO 4500012345"


# -- staff queries and authorization ----------------------------------------------------------------
def test_staff_ask_about_cases(client, work, graph, grid) -> None:
    case = new_case(grid)
    una = Chat(client, work, graph, UNA)
    una.says(f"status {case['id']}")
    assert una.last.startswith(f"{case['id']} (PO-4410093): open, shipment delay. Partner Globex Freight Inc., owner Una Smith")
    una.says("status PO 4410093")
    assert una.last.startswith(f"{case['id']} (PO-4410093)")
    new_case(grid, reference="PO-5520011")
    una.says("my cases")
    assert una.last == "Open cases (2):"
    una.picks("PO-5520011")
    assert "PO-5520011" in una.last
    una.says("open cases globx")
    assert una.last == "Open cases (2):"
    new_case(grid, partner="ACME", reference="PO-778812")
    una.says("open cases acme")  # HELP's own example, in lower case
    assert una.last.startswith("CASE-") and "PO-778812" in una.last and "Acme Logistics GmbH" in una.last


def test_a_partner_sees_only_its_own_cases_and_a_stranger_nothing(client, work, graph, grid, maria) -> None:
    acme = new_case(grid, partner="ACME", reference="PO-778812")
    maria.says(f"status {acme['id']}")
    assert maria.last == f"I couldn't find a case for {acme['id']} that you can see."
    own = new_case(grid)
    maria.says(f"status {own['id']}")
    assert maria.last.startswith(own["id"])
    stranger = Chat(client, work, graph, "4930999999999")
    stranger.says(f"status {acme['id']}")
    assert "not registered" in stranger.last and acme["id"] not in stranger.last


# -- everywhere -------------------------------------------------------------------------------------
def test_stop_start_and_help(client, work, graph, grid, rt, maria) -> None:
    maria.says("STOP")
    assert maria.last == "You won't get any more messages from us. Send START to resume."
    assert rt.redis.sismember(keyspace.OPTED_OUT, MARIA)
    sent = len(graph.sent)
    exception_logged(client, work, new_case(grid))
    assert len(graph.sent) == sent, "an opted-out contact gets no notification"
    maria.says("help")
    assert "Trading Grid assistant" in maria.last, "replies to their own messages still come"
    maria.says("START")
    exception_logged(client, work, new_case(grid, reference="PO-5520011"))
    assert "PO-5520011" in maria.last


def test_three_unplaceable_messages_hand_over_to_a_person(client, work, graph, grid, maria) -> None:
    for words in ("hello?", "the weather is nice", "blue"):
        maria.says(words)
    assert maria.last == "I'm having trouble understanding, so I've asked a colleague to call you back. Sorry for the trouble!"
    tasks = grid.audit()["tasks"]
    assert len(tasks) == 1 and "Maria Lopez" in tasks[0]["title"] and "blue" in tasks[0]["description"]


def test_cancelling_a_change_keeps_the_case_open_to_a_reply_to_its_notification(client, work, graph, grid,
                                                                                maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    alert = graph.wamids[-1]
    maria.says("can do 12/3/2027", reply_to=alert)
    maria.says("cancle")  # a typo, read as cancel
    assert maria.last == "OK, cancelled. Nothing was changed in Trading Grid."
    maria.says("actually 12/4/2027 please", reply_to=alert)
    assert maria.last == "New delivery date for PO-4410093: Sat 4 Dec 2027. Is that right?"
    maria.says("yes")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-04"


def test_a_reply_to_a_finished_cases_notification_leads_back_to_the_case_while_it_is_open(client, work, graph,
                                                                                          grid, maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    alert = graph.wamids[-1]
    maria.says("can do 12/3/2027", reply_to=alert)
    maria.taps("Confirm")
    maria.says("sorry, 12/6/2027 now", reply_to=alert)  # the same notification, days later
    assert maria.last == "New delivery date for PO-4410093: Mon 6 Dec 2027. Is that right?"
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-06"
    grid.update_case(case["id"], {"status": "closed"}, idempotency_key="close")
    maria.says("and 12/7/2027?", reply_to=alert)
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-06", "a closed case is not reopened"


def test_after_two_messages_with_no_date_the_next_five_working_days_are_offered(client, work, graph, grid,
                                                                                maria) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    alert = graph.wamids[-1]
    maria.says("hmm", reply_to=alert)
    assert maria.last.startswith("Sorry, I didn't get that.")
    maria.says("soonish", reply_to=alert)
    assert maria.last == "I couldn't read a date there. Which day can you deliver PO-4410093? Pick one, or type it."
    days = working_days(localtime.local_date(MARIA, time.time()), 5)
    assert all(d.weekday() < 5 for d in days) and len(days) == 5
    third = days[2]
    maria.picks(f"{third:%a} {third.day} {third:%b}")
    assert maria.last == f"New delivery date for PO-4410093: {third:%a} {third.day} {third:%b} {third.year}. Is that right?"
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] == third.isoformat()
