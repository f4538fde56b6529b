"""app.alarms: one thread rings a process's alarms; one called off in time never rings."""
from __future__ import annotations

import threading
import time

from app import alarms


def test_an_alarm_rings_once_on_a_thread_of_its_own_about_when_it_is_due() -> None:
    rang: list[tuple[float, str]] = []
    done = threading.Event()
    start = time.monotonic()

    def ring() -> None:
        rang.append((time.monotonic() - start, threading.current_thread().name))
        done.set()

    alarms.after(0.2, ring)
    assert done.wait(5)
    time.sleep(0.2)
    assert len(rang) == 1
    late, thread = rang[0]
    assert 0.2 <= late < 0.2 + alarms.RESOLUTION_SECONDS + 1.0  # generous: a busy test machine
    assert thread == "alarm"


def test_an_alarm_called_off_before_it_is_due_never_rings_and_later_ones_still_do() -> None:
    rang: list[str] = []
    done = threading.Event()
    for n in range(200):
        alarms.after(0.1, lambda n=n: rang.append(f"off {n}")).cancel()
    alarms.after(0.3, lambda: (rang.append("kept"), done.set()))
    assert done.wait(5)
    time.sleep(0.2)
    assert rang == ["kept"]


def test_an_earlier_alarm_set_while_the_thread_waits_for_a_later_one_rings_first() -> None:
    rang: list[str] = []
    both = threading.Barrier(3)
    alarms.after(1.5, lambda: (rang.append("later"), both.wait(5)))
    time.sleep(0.2)  # the thread is asleep until the later alarm
    alarms.after(0.1, lambda: (rang.append("sooner"), both.wait(5)))
    both.wait(5)
    assert rang == ["sooner", "later"]


def test_a_slow_callback_does_not_hold_up_the_next_alarm() -> None:
    release, second = threading.Event(), threading.Event()
    alarms.after(0.05, lambda: release.wait(5))
    alarms.after(0.1, second.set)
    assert second.wait(2), "the second alarm rang while the first callback was still running"
    release.set()
