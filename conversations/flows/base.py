"""A flow: a declarative table of states and transitions, one shared `transitions.Machine` for
all threads of the flow. A turn is added to the machine with its thread's saved state, fires
one trigger, and is removed again: nothing of a conversation lives in the machine.

A flow also says how its threads begin (`open`: its first state), which answer each of its
states waits for (`waits_for`, so the router can tell which of several threads a "yes" is for)
and what to suggest when a message means nothing in a state (`hint`): nobody else needs to know
a flow's state names."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from transitions import EventData, Machine

from conversations.threads import Thread
from conversations.turn import Turn

Callback = Callable[[EventData], None]
# What a flow that says back what it understood, then asks to confirm, waits for in that state.
CONFIRMING_WAITS_FOR = {"confirm": "confirming", "cancel": "confirming"}
CONFIRMING_HINTS = {"confirming": "hint_confirm"}
CONFIRMATION_SECONDS = 24 * 3600  # a change said back and not confirmed for this long is dropped

S = TypeVar("S")


def slots_of(turn: Turn, shape: type[S]) -> S:
    """The thread's slots as its flow declares them (a TypedDict): the same dict, kept in Redis as
    JSON, typed for the flow that reads and fills it."""
    return cast(S, turn.here.slots)


class Flow:
    """`transitions` rows: {"trigger", "source", "dest", "after"?: callable}. `quoted_only`: its
    threads take only a message that replies to one of theirs. `reopenable`: a finished thread of
    it comes back when the person replies to its notification while the case is open. `pending`:
    the slots that hold a change said back and not yet confirmed (dropped when a wait runs out or
    the thread comes back)."""

    quoted_only = False
    reopenable = False
    pending: tuple[str, ...] = ("proposal",)

    def __init__(self, name: str, states: Sequence[str], transitions: Sequence[dict[str, Any]], initial: str,
                 waits_for: Mapping[str, str] | None = None, hints: Mapping[str, str] | None = None,
                 timeouts: Mapping[str, tuple[float, str]] | None = None):
        self.name = name
        self.initial = initial
        self.waits_for = dict(waits_for or {})  # an intent -> the state in which it is the answer awaited
        self.hints = dict(hints or {})  # a state -> the prompt suggesting what to answer in it
        # a state -> (seconds an answer is waited for in it, the state its thread falls back to)
        self.timeouts = dict(timeouts or {})
        self.machine = Machine(model=None, states=list(states), transitions=list(transitions), initial=initial,
                               auto_transitions=False, send_event=True)

    def reopen(self, thread: Thread) -> None:
        """A finished thread waits again from its first state, nothing half-said kept."""
        thread.state = self.initial
        for slot in self.pending:
            thread.slots.pop(slot, None)

    def open(self, thread_id: str, slots: Mapping[str, object] | None = None, at: float | None = None) -> Thread:
        """A new thread of this flow, in its first state."""
        moment = at if at is not None else time.time()
        return Thread(id=thread_id, flow=self.name, state=self.initial, slots=dict(slots or {}),
                      opened_at=moment, updated_at=moment)

    def awaits(self, thread: Thread, intent: str) -> bool:
        """Whether `thread` waits for an answer of this kind (a "yes" for a thread confirming)."""
        return self.waits_for.get(intent) == thread.state

    def answers(self, thread: Thread, intent: str) -> bool:
        """Whether a message of this kind can be for `thread` at all (a files thread takes only a
        yes or a no): of several open threads, those that cannot take it are not asked about."""
        return True

    def stuck(self, turn: Turn) -> bool:
        """A message this thread cannot take: True when the flow answered it itself (offered a
        simpler way to answer), else the router says it did not understand."""
        return False

    def hint(self, thread: Thread) -> str:
        return self.hints.get(thread.state, "hint_answer")

    def fire(self, turn: Turn, trigger: str) -> bool:
        """Runs `trigger` on the turn's thread; False when the thread's state does not take it."""
        thread = turn.here
        self.machine.add_model(turn, initial=thread.state)
        try:
            if trigger not in self.machine.get_triggers(thread.state):
                return False
            self.machine.events[trigger].trigger(turn, **turn.event_kwargs)
            thread.state = self.machine.get_model_state(turn).name
            return True
        finally:
            self.machine.remove_model(turn)

    def event(self, turn: Turn) -> str | None:
        """The trigger a message means in this flow; flows override it."""
        raise NotImplementedError


def turn_of(event: EventData) -> Turn:
    model = event.model
    assert isinstance(model, Turn)
    return model
