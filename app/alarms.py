"""Callbacks a moment from now, nearly always called off before they are due (`after`).

Why not `threading.Timer`: a Timer is an OS thread started and woken to end for every alarm,
and the worker sets one on every question to Trading Grid (the "typing…" shown when it is slow),
which costs a busy worker more CPU than the question. Here one thread a process keeps the alarms
in a heap and sleeps until the first is due; calling one off only marks it. An alarm that comes
due runs on a thread of its own, so a slow callback never holds up the next alarm. Alarms may
be up to RESOLUTION_SECONDS late: the thread wakes at most that often, however many are set.
"""
from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable

RESOLUTION_SECONDS = 0.05


class Alarm:
    """One callback due at `due` (time.monotonic); `cancel` calls it off if it has not started."""

    __slots__ = ("due", "callback", "cancelled")

    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Clock:
    """The process's alarms and the thread that rings them."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()
        threading.Thread(target=self._run, name="alarms", daemon=True).start()

    def add(self, alarm: Alarm) -> None:
        with self._wake:
            first = not self._heap or alarm.due < self._heap[0][0]
            heapq.heappush(self._heap, (alarm.due, next(self._order), alarm))
            if first:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > (now := time.monotonic()):
                    self._wake.wait(self._heap[0][0] - now if self._heap else None)
                due: list[Alarm] = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
            for alarm in due:
                if not alarm.cancelled:
                    threading.Thread(target=alarm.callback, name="alarm", daemon=True).start()
            # Coarse on purpose: alarms called off pile up at the head, and each need not wake us.
            time.sleep(RESOLUTION_SECONDS)


_clock: _Clock | None = None
_lock = threading.Lock()


def after(seconds: float, callback: Callable[[], None]) -> Alarm:
    """`callback` called on a thread of its own in `seconds` (up to RESOLUTION_SECONDS later),
    unless the Alarm answered is cancelled first."""
    global _clock
    alarm = Alarm(time.monotonic() + seconds, callback)
    with _lock:
        if _clock is None or _clock.pid != os.getpid():  # none yet, or inherited over a fork
            _clock = _Clock()
        clock = _clock
    clock.add(alarm)
    return alarm
