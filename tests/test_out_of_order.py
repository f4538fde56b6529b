"""Meta delivers at least once and out of order. A message older than one already answered is
handled in the light of what came after: questions are answered, an answer to a thread nothing
changed since is taken, and one that later messages overtook is not acted on and the person is
told. None vanishes without a word."""
from __future__ import annotations

import random
import time

from app import pace
from tests.chat import Chat
from tests.helpers import envelope, post_whatsapp, text
from tests.test_conversations import MARIA, exception_logged, new_case

OVERTAKEN = "reached me only after your later ones, so I didn't act on it."


def test_a_late_answer_to_a_thread_nothing_changed_is_taken(client, work, graph, grid) -> None:
    maria = Chat(client, work, graph, MARIA)
    case = new_case(grid)
    exception_logged(client, work, case)
    now = int(time.time())
    maria.says("help", timestamp=now + 2)          # arrives first
    maria.says("can do 12/3/2027", timestamp=now + 1)  # written before it, delivered after
    assert maria.last == "New delivery date for PO-4410093: Fri 3 Dec 2027. Is that right?"
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"


def test_a_late_cancel_does_not_undo_a_later_confirm(client, work, graph, grid) -> None:
    maria = Chat(client, work, graph, MARIA)
    case = new_case(grid)
    exception_logged(client, work, case)
    now = int(time.time())
    maria.says("can do 12/3/2027", timestamp=now + 1)
    maria.says("yes", timestamp=now + 3)
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
    maria.says("no wait, cancel", timestamp=now + 2)  # written between them, delivered last
    assert maria.last == f'Your message "no wait, cancel" {OVERTAKEN} If it still matters, please send it again.'
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
    assert len(grid.audit(case["id"])["comments"]) == 1


def test_a_late_stop_does_not_undo_a_later_start(client, rt, work, graph) -> None:
    maria = Chat(client, work, graph, MARIA)
    now = int(time.time())
    maria.says("START", timestamp=now + 2)
    maria.says("STOP", timestamp=now + 1)
    assert OVERTAKEN in maria.last
    assert not rt.redis.sismember("tgwa:optout", MARIA)


def test_a_shuffled_burst_gets_an_answer_for_every_message(client, work, graph, grid) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    now = int(time.time())
    messages = [text(MARIA, words, message_id=f"wamid.burst.{n}", timestamp=now + 1 + n)
                for n, words in enumerate(["can do 12/3/2027", "yes", "help", "status " + case["id"], "ok thanks"] * 5)]
    order = messages[:]
    random.Random(14).shuffle(order)
    assert len(messages) < pace.SENDER_BURST  # a person's pace: none waits for a later turn
    for start in range(0, len(order), 5):  # Meta's deliveries in waves, the worker draining between them
        for message in order[start:start + 5]:
            assert post_whatsapp(client, envelope(message)).status_code == 200
        work()
    answered = [p["context"]["message_id"] for p in graph.sent if p["to"] == MARIA and "context" in p]
    assert sorted(answered) == sorted(m["id"] for m in messages), "each message answered exactly once"
    assert len(grid.audit(case["id"])["comments"]) <= 1
