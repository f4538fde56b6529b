"""Group commit: requests that arrive together share one Redis round trip.

Why: on a busy web process most of a webhook's cost is not Redis's work but the round trip
around it (a send, a wait, a wake-up on both sides). When requests run concurrently (the
Procfile's gevent web workers, or threads), each puts its writes here; the first becomes the
leader, gives way once so that requests already able to run join it, and sends everything
waiting in one round trip, while the others wait for their own answers. Whoever arrives during
that trip is sent by the next leader, so a batch grows with the load and a lone request goes at
once. Every request still gets its answer only once its writes are done, or
the error that stopped them.

Under load (the batch before had company), a leader may wait a moment more (`linger`) before it
takes its batch: a round trip costs both sides about as much as recording several requests, so
batches of ten instead of four cost less CPU per request than the wait costs in latency.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class _Slot(Generic[Item, Answer]):
    __slots__ = ("item", "done", "lead", "answer", "error")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = threading.Event()
        self.lead = False  # woken to send the next batch rather than with an answer
        self.answer: Answer | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Answer]):
    """`submit(item)` returns `send([..., item, ...])`'s answer for `item`, or raises its error.
    `send` gets every item waiting, in arrival order, and answers each in that order."""

    def __init__(self, send: Callable[[list[Item]], Sequence[Answer]], linger: float = 0.0) -> None:
        self._send = send
        self._linger = linger
        self._busy = False  # the batch before had more than one item
        self._lock = threading.Lock()
        self._waiting: list[_Slot[Item, Answer]] = []
        self._leading = False

    def submit(self, item: Item) -> Answer:
        slot: _Slot[Item, Answer] = _Slot(item)
        with self._lock:
            self._waiting.append(slot)
            follower, self._leading = self._leading, True
        if follower:
            try:
                slot.done.wait()
            except BaseException:
                self._abandon(slot)
                raise
            if not slot.lead:
                return _outcome(slot)
        self._lead(slot)
        return _outcome(slot)

    def _abandon(self, slot: _Slot[Item, Answer]) -> None:
        """A waiting request was stopped (its greenlet killed, say): if it was still waiting, it
        leaves the queue; if it had just been asked to lead, it hands that on, so nobody behind it
        waits for a leader that will never come."""
        with self._lock:
            if slot not in self._waiting:
                return  # already sent by a leader; its answer goes unread
            self._waiting.remove(slot)
            chosen = slot.lead  # read under the lock, where the lead is given
        if chosen:
            self._hand_on()

    def _hand_on(self) -> None:
        """The lead passes to the first request waiting, if any; else the next to come leads."""
        with self._lock:
            successor = self._waiting[0] if self._waiting else None
            self._leading = successor is not None
            if successor is not None:
                successor.lead = True
        if successor is not None:
            successor.done.set()

    def _lead(self, own: _Slot[Item, Answer]) -> None:
        # Give way once before taking the batch: requests already able to run (their bodies read,
        # under gevent) get to join it instead of waiting a whole round trip for the next one;
        # under load, for a moment longer.
        time.sleep(self._linger if self._busy else 0)
        with self._lock:
            batch, self._waiting = self._waiting, []
        self._busy = len(batch) > 1
        try:
            answers = self._send([slot.item for slot in batch])
            for slot, answer in zip(batch, answers, strict=True):
                slot.answer = answer
        except BaseException as exc:  # noqa: BLE001 - every waiter must learn of it, whatever it is
            for slot in batch:
                slot.error = exc
        finally:
            self._hand_on()
            for slot in batch:
                if slot is not own:
                    slot.done.set()


def _outcome(slot: _Slot[Item, Answer]) -> Answer:
    if slot.error is not None:
        raise slot.error
    return slot.answer  # type: ignore[return-value]
