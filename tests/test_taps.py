"""A tap is input like any other: its button id names an action and a thread, and it is taken only
when that thread's latest message offered that action and its state takes it. An old or forged
button is answered and writes nothing."""
from __future__ import annotations

from app import parked
from tests.chat import Chat
from tests.test_conversations import MARIA, exception_logged, new_case, schedule_revised


def test_forged_taps_on_a_revised_schedule_write_nothing(client, work, graph, grid) -> None:
    maria = Chat(client, work, graph, MARIA)
    case = new_case(grid, reference="PO-3001")
    schedule_revised(client, work, case)
    maria.sends_tap(f"t|info|schedule:{case['id']}", "Info")
    assert maria.last == "That button no longer applies. Please tap Accept, Reject or Propose date, or send HELP."
    maria.sends_tap(f"t|confirm|schedule:{case['id']}")
    assert maria.last.startswith("That button no longer applies.")
    audit = grid.audit(case["id"])
    assert audit["tasks"] == [] and audit["acknowledgments"] == []
    maria.taps("accept")  # the buttons she was really offered still work
    assert [a["response"] for a in grid.audit(case["id"])["acknowledgments"]] == ["accepted"]


def test_a_forged_info_tap_on_an_exception_is_answered_not_parked(client, rt, work, graph, grid) -> None:
    maria = Chat(client, work, graph, MARIA)
    case = new_case(grid, reference="PO-4001")
    exception_logged(client, work, case)
    maria.sends_tap(f"t|info|case:{case['id']}", "Info")
    assert maria.last.startswith("That button no longer applies.")
    assert parked.items(rt.redis) == []
    assert grid.get_case(case["id"])["expected_date"] is None


def test_an_old_confirm_button_after_a_change_does_not_save(client, work, graph, grid) -> None:
    maria = Chat(client, work, graph, MARIA)
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can do 12/3/2027")
    old_confirm = f"t|confirm|case:{case['id']}"
    maria.taps("change")  # she wants another date: the bot asks again, without buttons
    maria.sends_tap(old_confirm)
    assert grid.get_case(case["id"])["expected_date"] is None, "the old Confirm saves nothing"
    maria.says("12/6/2027")
    maria.taps("confirm")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-06"


def test_a_forged_pick_of_a_thread_not_listed_is_refused(client, work, graph, grid) -> None:
    maria = Chat(client, work, graph, MARIA)
    first, second = new_case(grid, reference="PO-1"), new_case(grid, reference="PO-2")
    third = new_case(grid, reference="PO-3")
    for case in (first, second):
        exception_logged(client, work, case)
    maria.says("can do 12/3/2027")
    assert maria.last == "Which one is this about?"
    exception_logged(client, work, third)
    maria.sends_tap(f"t|pick|case:{third['id']}", "PO-3")
    assert maria.last == "That's already recorded. Thanks!"
    assert all(grid.get_case(c["id"])["expected_date"] is None for c in (first, second, third))
