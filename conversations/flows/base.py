"""A flow: a declarative table of states and transitions, one shared `transitions.Machine` for
all threads of the flow. A turn is added to the machine with its thread's saved state, fires
one trigger, and is removed again: nothing of a conversation lives in the machine."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from transitions import EventData, Machine

from conversations.turn import Turn

Callback = Callable[[EventData], None]


class Flow:
    """`transitions` rows: {"trigger", "source", "dest", "after"?: callable}."""

    def __init__(self, name: str, states: Sequence[str], transitions: Sequence[dict[str, Any]], initial: str):
        self.name = name
        self.initial = initial
        self.machine = Machine(model=None, states=list(states), transitions=list(transitions), initial=initial,
                               auto_transitions=False, send_event=True)

    def fire(self, turn: Turn, trigger: str) -> bool:
        """Runs `trigger` on the turn's thread; False when the thread's state does not take it."""
        assert turn.thread is not None
        self.machine.add_model(turn, initial=turn.thread.state)
        try:
            if trigger not in self.machine.get_triggers(turn.state):  # type: ignore[attr-defined]
                return False
            turn.trigger(trigger, **turn.event_kwargs)  # type: ignore[attr-defined]
            turn.thread.state = turn.state  # type: ignore[attr-defined]
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
