"""Fault injection: Trading Grid and Graph servers on loopback that fail on command. After each
fault, every confirmed answer is in Trading Grid exactly once and every message sent once."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from rq.registry import ScheduledJobRegistry

from app.tradinggrid.http import HttpTradingGrid
from app.tradinggrid.server import create_server
from app.worker import enqueue_due_retries
from tests.chat import Chat, event
from tests.flaky import Faults
from tests.loopback import serve

MARIA = "14155550134"


@pytest.fixture
def faults(grid) -> Faults:  # type: ignore[no-untyped-def]
    return Faults(create_server(grid))


@pytest.fixture
def tradinggrid_url(faults: Faults) -> Iterator[str]:
    with serve(faults) as url:
        yield url


def retry_everything_due(rt, work, rounds: int = 12) -> None:  # type: ignore[no-untyped-def]
    """Time passes: every job waiting for its backoff is due now (and runs)."""
    for _ in range(rounds):
        for queue in rt.queues.all():
            registry = ScheduledJobRegistry(queue=queue)
            for job_id in registry.get_job_ids():
                job = queue.fetch_job(job_id)
                if job is not None and job.func_name != "app.jobs.sweep_inboxes":
                    registry.schedule(job, dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
        enqueue_due_retries(rt.queues)
        work()


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
    retry_everything_due(rt, work)
    written_once(grid, case)


def test_trading_grid_slower_than_the_timeout_still_lands_once(client, rt, work, graph, grid, faults, tradinggrid_url) -> None:  # type: ignore[no-untyped-def]
    maria, case = confirm_a_new_date(client, work, graph, grid)
    rt.tradinggrid = HttpTradingGrid(tradinggrid_url, timeout=(1, 0.3))
    faults.delay = 0.6  # does the work, answers after the client gave up
    maria.taps("Confirm")
    faults.delay = 0
    retry_everything_due(rt, work)
    written_once(grid, case)
    patches = [c for c in faults.calls if c.startswith("PATCH")]
    assert len(patches) >= 2, "it was retried; the Idempotency-Key made the retry land nothing twice"


def test_trading_grid_asking_to_wait_is_answered_later(client, rt, work, graph, grid, faults) -> None:  # type: ignore[no-untyped-def]
    maria, case = confirm_a_new_date(client, work, graph, grid)
    faults.fail(429, times=2, retry_after="20")
    maria.taps("Confirm")
    retry_everything_due(rt, work)
    written_once(grid, case)


@pytest.mark.parametrize("status,code", [(429, 130429), (500, None), (503, 131000)])
def test_graph_failing_sends_each_message_once(status, code, client, rt, work, graph, grid) -> None:  # type: ignore[no-untyped-def]
    maria, case = confirm_a_new_date(client, work, graph, grid)
    graph.fail_next(status, code, times=3)
    maria.taps("Confirm")
    retry_everything_due(rt, work)
    written_once(grid, case)
    thanks = [t for t in maria.bot if t.startswith("Thanks Maria!")]
    assert thanks == ["Thanks Maria! PO-4410093 now shows Fri 3 Dec 2027 in Trading Grid."]


def test_a_notification_refused_for_a_closed_window_goes_out_as_the_template(client, work, graph, grid) -> None:
    Chat(client, work, graph, MARIA).says("hi")
    graph.fail_next(400, 131047)
    event(client, work, "exception.logged", case_id="CASE-1", partner_id="GLOBEX", issue_type="shipment_delay",
          reference="PO-1", summary="late", thread_url="https://tg.example.com/x")
    notices = [p for p in graph.sent if p["to"] == MARIA and p["type"] != "text"]
    assert [p["type"] for p in notices] == ["template"]
