"""Waiting states that run out. A flow says, per state, how long an answer is waited for and the
state its thread falls back to: a change said back and not confirmed within 24 hours is dropped
(nothing written; the thread waits for its answer again). A job scheduled as the thread enters
the state does it, at that hour, whoever is awake; the person is told when they next write."""
from __future__ import annotations

import time

from app import keyspace, queues, runtime
from conversations import threads
from conversations.flows.base import Flow
from conversations.flows.catalog import FLOWS
from conversations.turn import Turn

WAIT = "wait"        # in a waiting thread's slots: which entry into the state its job ends
EXPIRED = "expired"  # in the session: the references of waits that ran out, to tell the person
DEFER_SECONDS = 600  # how much later a wait is looked at again while the person's messages wait


def begin(turn: Turn, flow: Flow) -> None:
    """After a transition: if the thread's new state is waited in for a while, the job that ends
    the wait. Keyed by this turn, so a replayed turn schedules it once."""
    thread = turn.thread
    if thread is None or thread.state not in flow.timeouts:
        return
    seconds, _ = flow.timeouts[thread.state]
    thread.slots[WAIT] = turn.key_base
    turn.schedule(time.time() + seconds, queues.END_WAIT, turn.message.sender, thread.id, thread.state,
                  turn.key_base, job_id=f"wait-{turn.message.sender}-{thread.id}-{turn.key_base}")


def end(contact: str, thread_id: str, state: str, entry: str) -> bool:
    """A job: the wait that `entry` began, if the thread is still in it, ends; True if it did.
    While messages of the person wait to be handled (an answer given in time, held up by a
    retry), it is looked at again later instead: the answer may be the one waited for."""
    rt = runtime.current()
    if rt.redis.zcard(keyspace.inbox_key(contact)):
        at = time.time() + DEFER_SECONDS
        rt.queues.enqueue_at(queues.EVENTS, at, end, contact, thread_id, state, entry,
                             job_id=f"wait-{contact}-{thread_id}-{entry}-{int(at)}")
        return False
    with threads.locked(rt, contact) as conversation:
        thread = conversation.threads.get(thread_id)
        if thread is None or thread.state != state or thread.slots.get(WAIT) != entry:
            return False  # answered, or waiting again since: that wait has a job of its own
        flow = FLOWS[thread.flow]
        thread.state = flow.timeouts[state][1]
        for slot in (WAIT, *flow.pending):
            thread.slots.pop(slot, None)
        thread.updated_at = time.time()
        conversation.session[EXPIRED] = [*conversation.session.get(EXPIRED, []), thread.reference]
    return True


def tell(turn: Turn) -> None:
    """The person writes again: first, what ran out while they were away."""
    for reference in turn.conversation.session.pop(EXPIRED, None) or []:
        turn.reply(turn.say("wait_expired", reference=reference))
