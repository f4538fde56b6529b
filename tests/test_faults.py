"""Fault injection: Trading Grid and Graph servers on loopback that fail on command. After each
fault, every confirmed answer is in Trading Grid exactly once and every message sent once."""
from __future__ import annotations

import time

import pytest
from rq import SimpleWorker

from app import drain, inbox, keyspace, parked
from conversations import say
from app.tradinggrid.http import HttpTradingGrid
from tests.chat import Chat, event
from tests.clock import time_passes
from tests import faulty_grid

faults, tradinggrid_url = faulty_grid.faults, faulty_grid.tradinggrid_url  # its Trading Grid fails on command
MARIA, UNA = "14155550134", "447700900123"


def confirm_a_new_date(client, work, graph, grid) -> tuple[Chat, dict]:  # type: ignore[no-untyped-def]
    case = grid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": "PO-4410093",
                             "summary": "late"}, idempotency_key="seed")
    event(client, work, "exception.logged", case_id=case["id"], partner_id="GLOBEX", issue_type="shipment_delay",
          reference="PO-4410093", summary="late", thread_url="https://tg.example.com/x")
    maria = Chat(client, work, graph, MARIA)
    maria.says("can do 12/3/2027")
    return maria, case


def written_once(grid, case: dict) -> None:  # type: ignore[no-untyped-def]
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
    assert len(grid.audit(case["id"])["comments"]) == 1


@pytest.mark.parametrize("status", [500, 503, 429, 409, 408])
def test_trading_grid_failing_then_back_lands_each_write_once(status, client, rt, work, graph, grid, faults) -> None:  # type: ignore[no-untyped-def]
    maria, case = confirm_a_new_date(client, work, graph, grid)
    faults.fail(status, times=6)  # down for a while: the first tries and some retries fail
    maria.taps("Confirm")
    assert maria.last == "Thanks Maria! Trading Grid is slow to answer; I'll save it as soon as it does."
    assert grid.get_case(case["id"])["expected_date"] is None
    time_passes(rt, work)
    written_once(grid, case)
    assert [t for t in maria.bot if "saved in Trading Grid now" in t] == [
        f"Thanks Maria, what you sent about {case['id']} is saved in Trading Grid now."], "told once, for both writes"


def test_a_refusal_the_partner_can_no_longer_be_told_of_goes_to_the_cases_owner(client, rt, work, graph, grid,  # type: ignore[no-untyped-def]
                                                                                faults) -> None:
    maria, case = confirm_a_new_date(client, work, graph, grid)
    grid.update_case(case["id"], {"assignee_id": "u.smith"}, idempotency_key="assign")
    faults.fail(503, times=2, retry_after="60")  # Trading Grid busy: ask again in a minute
    maria.taps("Confirm")
    faults.fail(422, times=2)  # when the minute is up, Trading Grid refuses them
    rt.redis.set(keyspace.last_inbound_key(MARIA), int(time.time()) - 2 * 24 * 3600)  # her window closed meanwhile
    told = len(maria.bot)
    time_passes(rt, work)
    assert len(maria.bot) == told, "no free-form message reaches her now"
    una = Chat(client, work, graph, UNA)
    assert una.bot and una.last.startswith(f"Could not save Maria Lopez's answer on {case['id']}")


def test_trading_grid_slower_than_the_timeout_still_lands_once(client, rt, work, graph, grid, faults, tradinggrid_url) -> None:  # type: ignore[no-untyped-def]
    maria, case = confirm_a_new_date(client, work, graph, grid)
    rt.tradinggrid = HttpTradingGrid(tradinggrid_url, timeout=(1, 0.3))
    faults.delay = 0.6  # does the work, answers after the client gave up
    maria.taps("Confirm")
    faults.delay = 0
    time_passes(rt, work)
    written_once(grid, case)
    patches = [c for c in faults.calls if c.startswith("PATCH")]
    assert len(patches) >= 2, "it was retried; the Idempotency-Key made the retry land nothing twice"


def test_while_trading_grid_takes_its_time_the_partner_sees_typing(client, rt, work, graph, grid, faults) -> None:  # type: ignore[no-untyped-def]
    maria, case = confirm_a_new_date(client, work, graph, grid)
    assert graph.typing == [], "a quick Trading Grid shows nothing"
    faults.delay = 1.5
    tap = maria.taps("Confirm")
    faults.delay = 0
    assert graph.typing == [tap], "shown once, for the message being answered"
    assert maria.last == "Thanks Maria! PO-4410093 now shows Fri 3 Dec 2027 in Trading Grid."
    written_once(grid, case)
    question = maria.says(f"status {case['id']}")
    assert graph.typing == [tap] and question in graph.read_receipts


def test_a_turn_whose_hold_on_the_contact_lapsed_does_not_thank_twice(client, rt, work, graph, grid, faults,  # type: ignore[no-untyped-def]
                                                                         monkeypatch) -> None:
    """Trading Grid takes longer than the contact's lock lives and nobody keeps it up (a worker
    paused, a process with no keeper): the turn finds its lock gone after Maria was thanked, and
    is not saved. Its retry handles her tap again, and finds the thanks already sent."""
    maria, case = confirm_a_new_date(client, work, graph, grid)
    monkeypatch.setattr(keyspace, "CONTACT_LOCK_TTL", 1)
    faults.delay = 1.2
    maria.taps("Confirm")
    faults.delay = 0
    time_passes(rt, work)
    written_once(grid, case)
    assert [t for t in maria.bot if t.startswith("Thanks Maria!")] == [
        "Thanks Maria! PO-4410093 now shows Fri 3 Dec 2027 in Trading Grid."]
    maria.says(f"status {case['id']}")
    assert maria.last.startswith(case["id"]), "her conversation goes on"


def test_trading_grid_asking_to_wait_is_answered_later(client, rt, work, graph, grid, faults) -> None:  # type: ignore[no-untyped-def]
    maria, case = confirm_a_new_date(client, work, graph, grid)
    faults.fail(429, times=2, retry_after="20")
    maria.taps("Confirm")
    time_passes(rt, work)
    written_once(grid, case)


@pytest.mark.parametrize("status,code", [(429, 130429), (500, None), (503, 131000)])
def test_graph_failing_sends_each_message_once(status, code, client, rt, work, graph, grid) -> None:  # type: ignore[no-untyped-def]
    maria, case = confirm_a_new_date(client, work, graph, grid)
    graph.fail_next(status, code, times=3)
    maria.taps("Confirm")
    time_passes(rt, work)
    written_once(grid, case)
    thanks = [t for t in maria.bot if t.startswith("Thanks Maria!")]
    assert thanks == ["Thanks Maria! PO-4410093 now shows Fri 3 Dec 2027 in Trading Grid."]


def test_messages_arriving_while_a_reply_waits_for_its_retry_spend_none_of_its_tries(client, rt, work, graph) -> None:  # type: ignore[no-untyped-def]
    """Graph refuses for a while and Maria keeps writing. Her first message is tried again by its
    retry job alone, however late that job starts and whatever arrives meanwhile: were each arrival
    (or an older retry job) to try it too, an outage of seconds would spend its ten tries and park it."""
    def busy_workers() -> None:  # they take what is queued, and are too busy to start what fell due
        SimpleWorker(rt.queues.all(), connection=rt.queues.connection).work(burst=True)

    maria = Chat(client, busy_workers, graph, MARIA)
    graph.fail_for(60, 429, 130429)
    maria.says("help", message_id="wamid.first")
    time.sleep(1.3)  # the first backoff (about a second) is over, its retry job not yet started
    maria.says("my cases")
    maria.says("status PO-4410093")
    assert rt.redis.hget(keyspace.inbox_messages_key(MARIA), inbox.tries_field("wamid.first")) == b"1"
    assert drain.drain_contact(MARIA, retry="an-older-retry") == 0, "nor does a retry job that is not the last"
    graph.fail_for(0, 429)
    time_passes(rt, work)
    help_, cases, status = maria.bot
    assert help_.startswith("I'm the Trading Grid assistant"), "answered once each, in the order written"
    assert cases == "No open cases."
    assert status == "I couldn't find a case for PO-4410093 that you can see.", "as she wrote it"
    assert parked.items(rt.redis) == []


def test_a_notification_refused_for_a_closed_window_goes_out_as_the_template(client, work, graph, grid) -> None:
    Chat(client, work, graph, MARIA).says("hi")
    graph.fail_next(400, 131047)
    event(client, work, "exception.logged", case_id="CASE-1", partner_id="GLOBEX", issue_type="shipment_delay",
          reference="PO-1", summary="late", thread_url="https://tg.example.com/x")
    notices = [p for p in graph.sent if p["to"] == MARIA and p["type"] != "text"]
    assert [p["type"] for p in notices] == ["template"]


def test_a_refused_write_retried_from_ops_and_refused_again_apologises_once(client, rt, work, graph, grid, faults) -> None:  # type: ignore[no-untyped-def]
    maria, case = confirm_a_new_date(client, work, graph, grid)
    faults.fail(422, times=4)  # Trading Grid refuses the change, and again when it is retried
    maria.taps("Confirm")
    sorry = say.text("en", "write_failed")
    assert maria.bot.count(sorry) == 1
    [item] = [i for i in parked.items(rt.redis) if i["kind"] == "write"]
    assert client.post(f"/ops/parked/{item['id']}/retry").status_code in (200, 302, 303)
    time_passes(rt, work)
    assert maria.bot.count(sorry) == 1, "told once: a person at /ops is on it now"
    assert [i["kind"] for i in parked.items(rt.redis)] == ["write"], "parked again, for the person"
