"""Nothing lost when things go wrong: a drain job lost with its worker, a flooding number, a
Trading Grid that asks to be called later, a turn that fails half-way."""
from __future__ import annotations

import time

from flask import Flask
from rq.executions import Execution
from rq.job import JobStatus

from app import drain, inbox, keeper, keyspace, pace, queues, writes
from app.queues import INBOUND, WRITES
from app.tradinggrid.http import HttpTradingGrid
from app.worker import Worker
from tests.chat import Chat
from tests.clock import time_passes
from tests.helpers import envelope, post_whatsapp, text
from tests.loopback import serve

MARIA = "14155550134"
AUTHOR = {"kind": "partner_contact", "id": MARIA, "name": "Maria Lopez", "phone": "+" + MARIA}


def test_a_message_whose_drain_job_was_lost_is_picked_up_by_the_sweep(client, rt, work, graph) -> None:
    message = text(MARIA, "help", timestamp=int(time.time()) - 600)
    post_whatsapp(client, envelope(message))
    rt.queues.by_name[INBOUND].empty()  # the worker that took the job died with it
    work()
    assert graph.texts_to(MARIA) == []
    assert inbox.sweep_inboxes() == 1
    work()
    assert len(graph.texts_to(MARIA)) == 1
    assert not rt.redis.sismember(keyspace.PENDING_CONTACTS, MARIA)


def test_the_sweep_looks_at_pending_contacts_in_batches_and_wakes_only_the_left_behind(
        client, rt, work, graph, monkeypatch) -> None:
    monkeypatch.setattr(inbox, "SWEEP_BATCH", 2)
    lost, held, fresh, emptied = ["4915123456789", "4915111112222", MARIA], "447700900123", "447700900456", "15550001111"
    long_ago = int(time.time()) - 600
    for phone in [*lost, held]:
        post_whatsapp(client, envelope(text(phone, "help", timestamp=long_ago)))
    post_whatsapp(client, envelope(text(fresh, "help")))
    rt.queues.by_name[INBOUND].empty()  # every drain job was lost with its worker
    rt.redis.sadd(keyspace.PENDING_CONTACTS, emptied)  # pending, but its inbox is empty
    rt.redis.set(keyspace.contact_lock_key(held), "another worker")  # someone is on it
    assert inbox.sweep_inboxes() == 3, "the three left behind, across two batches"
    assert not rt.redis.sismember(keyspace.PENDING_CONTACTS, emptied)
    work()
    for phone in lost:
        assert len(graph.texts_to(phone)) == 1, f"{phone} is answered once the sweep woke a drainer"
    assert graph.texts_to(held) == [], "a contact another worker holds is left to it"


def test_a_flooding_number_waits_its_turn_and_is_told_once(client, rt, work, graph) -> None:
    start = int(time.time())
    for n in range(pace.SENDER_BURST + 10):
        post_whatsapp(client, envelope(text(MARIA, f"spam {n}", timestamp=start + n)))
    work()
    replies = graph.texts_to(MARIA)
    slow_down = [r for r in replies if "faster than I can read" in r]
    assert len(slow_down) == 1
    handled, waiting = len(replies) - 1, rt.redis.zcard(keyspace.inbox_key(MARIA))
    assert handled >= pace.SENDER_BURST and waiting > 0, "a burst is fine; the rest waits its turn"
    assert handled + waiting == pace.SENDER_BURST + 10, "nothing is dropped"


def test_other_contacts_are_not_held_up_by_one_busy_contact(client, rt, work, graph) -> None:
    una = "447700900123"
    start = int(time.time())
    for n in range(drain.MAX_PER_TURN + 5):
        post_whatsapp(client, envelope(text(MARIA, f"note {n}", timestamp=start + n)))
    post_whatsapp(client, envelope(text(una, "help", timestamp=start + 1)))
    work()
    recipients = [payload["to"] for payload in graph.sent]
    assert recipients.count(MARIA) == drain.MAX_PER_TURN + 5, "Maria is answered in full"
    assert recipients.index(una) == drain.MAX_PER_TURN, "after Maria's turn, Una goes before Maria's rest"


def test_trading_grid_retry_after_is_honoured(rt, work) -> None:
    calls: list[float] = []
    busy = Flask("busy")

    @busy.post("/cases/<case_id>/comments")
    def comment(case_id: str):  # type: ignore[no-untyped-def]
        calls.append(time.time())
        return {"error": "slow down"}, 429, {"Retry-After": "30"}

    with serve(busy) as url:
        rt.tradinggrid = HttpTradingGrid(url)
        rt.queues.enqueue(WRITES, writes.write_job, "add_comment", ["CASE-1", {"body": "x", "author": AUTHOR}],
                          "wamid.9:comment")
        work()
    from rq.registry import ScheduledJobRegistry
    registry = ScheduledJobRegistry(queue=rt.queues.by_name[WRITES])
    [job_id] = registry.get_job_ids()
    assert job_id.startswith("write-wamid_9_comment-")
    assert registry.get_scheduled_time(job_id).timestamp() >= calls[0] + 29


def test_a_turn_that_fails_half_way_is_retried_from_where_it_was(client, rt, work, graph, grid) -> None:
    case = grid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": "PO-4410093",
                             "summary": "late"}, idempotency_key="seed")
    maria = Chat(client, work, graph, MARIA)
    maria.says("hi")
    from tests.chat import event
    event(client, work, "exception.logged", case_id=case["id"], partner_id="GLOBEX", issue_type="shipment_delay",
          reference="PO-4410093", summary="late", thread_url="https://tg.example.com/x")
    maria.says("12/3/2027")
    real = rt.tradinggrid
    rt.tradinggrid = HttpTradingGrid("http://127.0.0.1:1")  # Trading Grid is down
    maria.says(f"status {case['id']}")  # a read that cannot be answered now
    assert rt.redis.zcard(keyspace.inbox_key(MARIA)) == 1, "the message waits for the retry"
    rt.tradinggrid = real
    time_passes(rt, work, rounds=1, seconds=60)  # its retry job (a minute, not her day to confirm)
    assert maria.last.startswith(case["id"])
    maria.says("yes")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"


def test_a_worker_killed_as_it_schedules_a_retry_leaves_the_job_to_be_retried(rt) -> None:
    """RQ marked a job scheduled at once and scheduled it in a transaction after: a worker killed
    between the two left a job no schedule held, which the keeper's cleanup then dropped (it
    retries only jobs still marked started). A write lost for good; now it is retried."""
    queue = rt.queues.by_name[queues.WRITES]
    job = queue.fetch_job(rt.queues.enqueue(queues.WRITES, queues.WRITE, "update_case", [], "k").id)
    assert queue.pop_job_id() == job.id  # a worker took it...
    with rt.redis.pipeline() as pipe:
        Execution.create(job, ttl=keeper.HEARTBEAT_SECONDS, pipeline=pipe)
        pipe.execute()
    job.set_status(JobStatus.STARTED)
    dying = rt.redis.pipeline()
    job.retry(queue, dying)  # ...it failed, and the worker died before its transaction was sent
    dying.reset()
    queue.started_job_registry.cleanup(time.time() + keeper.HEARTBEAT_SECONDS + 1)  # as a keeper, once its heartbeat lapsed
    assert job.id in queue.scheduled_job_registry.get_job_ids()
    assert queue.fetch_job(job.id).get_status() == JobStatus.SCHEDULED


def test_a_job_taken_by_a_worker_that_died_before_starting_it_is_retried_within_seconds(rt, monkeypatch) -> None:
    """A worker takes a job off its queue, then starts it: killed in between, the job sat in RQ's
    list of taken jobs for a minute before anyone looked again. The keepers retry it within
    TAKEN_LEFT_SECONDS of first seeing it there (here 0: the next round)."""
    monkeypatch.setattr(keeper, "TAKEN_LEFT_SECONDS", 0)
    queue = rt.queues.by_name[queues.WRITES]
    job = rt.queues.enqueue(queues.WRITES, queues.WRITE, "update_case", [], "k")
    rt.redis.lmove(queue.key, queue.intermediate_queue_key)  # taken, and its worker died
    survivor = Worker(rt.queues.all(), connection=rt.redis)
    keeper.upkeep(rt.queues, survivor, [])  # a keeper first sees it there...
    time.sleep(0.01)
    keeper.upkeep(rt.queues, survivor, [])  # ...and in the next round it goes back for a retry
    assert rt.redis.llen(queue.intermediate_queue_key) == 0
    assert job.id in queue.scheduled_job_registry.get_job_ids()
