"""Group commit: concurrent requests share one send, each gets its own answer or the error."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.groupcommit import GroupCommit
from tests.helpers import at_once

ROOT = Path(__file__).resolve().parents[1]


class Recorder:
    """A send that takes a while (as a Redis round trip does) and remembers each batch."""

    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on or set()

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        time.sleep(0.02)
        if self.fail_on & set(items):
            raise ConnectionError("store down")
        return [item * 10 for item in items]


def submit_all(commit: GroupCommit[int, int], items: list[int]) -> dict[int, object]:
    return dict(zip(items, at_once(commit.submit, items)))


def test_a_lone_request_is_sent_at_once_on_its_own() -> None:
    send = Recorder()
    assert GroupCommit(send).submit(4) == 40
    assert send.batches == [[4]]


def test_requests_arriving_together_share_sends_and_each_gets_its_own_answer() -> None:
    send = Recorder()
    answers = submit_all(GroupCommit(send), list(range(40)))
    assert answers == {item: item * 10 for item in range(40)}
    assert sorted(item for batch in send.batches for item in batch) == list(range(40))  # each sent once
    assert len(send.batches) < 40 and max(len(batch) for batch in send.batches) > 1


def test_a_failed_send_fails_every_request_in_it_and_later_ones_still_go() -> None:
    send = Recorder(fail_on={0})
    commit = GroupCommit(send)
    answers = submit_all(commit, list(range(20)))
    failed = next(batch for batch in send.batches if 0 in batch)
    assert all(isinstance(answers[item], ConnectionError) for item in failed)
    assert all(answers[item] == item * 10 for item in range(20) if item not in failed)
    assert commit.submit(7) == 70  # the commit is not stuck after a failure


def test_a_send_answering_the_wrong_number_of_items_is_an_error_for_each() -> None:
    commit: GroupCommit[int, int] = GroupCommit(lambda items: [])
    with pytest.raises(ValueError):
        commit.submit(1)


KILLED_FOLLOWER = """
from gevent import monkey; monkey.patch_all()
import gevent
from app.groupcommit import GroupCommit

batches = []
def send(items):
    batches.append(list(items))
    gevent.sleep(0.05)
    return [item * 10 for item in items]

commit = GroupCommit(send)
leader = gevent.spawn(commit.submit, 1)
gevent.sleep(0.01)  # 1 is on its way to Redis
followers = [gevent.spawn(commit.submit, n) for n in (2, 3)]
gevent.sleep(0.01)  # 2 and 3 wait for the next trip
followers[0].kill()  # the request of 2 dies while it waits (it was next in line to lead)
answers = [leader.get(timeout=2), followers[1].get(timeout=2), commit.submit(4)]
print(answers, batches)
"""


def test_a_waiting_request_that_dies_does_not_strand_the_others() -> None:
    """Under gevent (as in the web process): a request killed while it waits for its turn, even
    one chosen to send the next batch, leaves; the others behind it still go."""
    done = subprocess.run([sys.executable, "-c", KILLED_FOLLOWER], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[10, 30, 40] [[1], [3], [4]]"


def test_under_load_a_leader_lingers_so_that_more_join_its_batch_and_alone_it_does_not() -> None:
    batches: list[list[str]] = []
    gates: list[threading.Event] = []

    def send(items: list[str]) -> list[str]:  # each batch waits for the test to let it through
        batches.append(list(items))
        gate = threading.Event()
        gates.append(gate)
        assert gate.wait(5)
        return [item.upper() for item in items]

    commit: GroupCommit[str, str] = GroupCommit(send, linger=1.0)
    answers: dict[str, object] = {}

    def submit(item: str) -> threading.Thread:
        thread = threading.Thread(target=lambda: answers.__setitem__(item, commit.submit(item)))
        thread.start()
        return thread

    def until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 5
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.005)

    submit("x")  # alone: sent at once
    until(lambda: len(gates) == 1)
    submit("y"), submit("z")  # they wait for x's round trip...
    time.sleep(0.05)
    gates[0].set()
    until(lambda: len(gates) == 2)  # ...and go together, with no lingering after a lone batch
    assert batches == [["x"], ["y", "z"]]
    submit("w")  # arrives while y and z are on their way
    time.sleep(0.05)
    gates[1].set()
    time.sleep(0.1)
    late = submit("v")  # the leader w, after a batch with company, is still lingering
    until(lambda: len(gates) == 3)
    gates[2].set()
    late.join(5)
    assert batches[2] == ["w", "v"], "v joined w's round trip"
    assert answers == {"x": "X", "y": "Y", "z": "Z", "w": "W", "v": "V"}
