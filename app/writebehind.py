"""Writes that wait for the round trip ending a contact's turn (app.drain), so that a message
answered costs one trip to Redis to save everything: its conversation, the records of the
replies that left, and the inbox step to the next message.

Two kinds: what is kept only if the turn succeeds (the conversation: a failed turn saves
nothing, so its retry starts from the same state), and what is kept whatever follows (the record
that a reply left: else a retried turn would send it again). Outside a drain (`deferring`),
nothing waits: every write goes at once, as its caller would have it.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

Build = Callable[[Any], None]  # queues commands on a pipeline
After = Callable[[list[Any]], None]  # reads the answers to what its Build queued


@dataclasses.dataclass
class _Write:
    build: Build
    after: After | None
    always: bool


@dataclasses.dataclass
class Pending:
    """The writes a turn left for its end."""

    writes: list[_Write] = dataclasses.field(default_factory=list)

    def add(self, build: Build, after: After | None = None, always: bool = False) -> None:
        self.writes.append(_Write(build, after, always))

    def queue(self, pipe: Any, succeeded: bool) -> Callable[[list[Any]], None]:
        """Queues on `pipe` the writes to keep (all of them if the turn `succeeded`, else those
        kept whatever happens); returns what reads their answers, given the pipeline's answers."""
        spans: list[tuple[_Write, int, int]] = []
        for write in self.writes:
            if succeeded or write.always:
                start = length(pipe)
                write.build(pipe)
                spans.append((write, start, length(pipe)))
        self.writes = []

        def settle(answers: list[Any]) -> None:
            for write, start, end in spans:
                if write.after is not None:
                    write.after(answers[start:end])
        return settle

    @property
    def must_keep(self) -> bool:
        return any(write.always for write in self.writes)


def length(pipe: Any) -> int:
    """Commands queued so far on a pipeline, or on what app.scripts.run hands its builders."""
    return len(pipe)


_current: contextvars.ContextVar[Pending | None] = contextvars.ContextVar("writebehind", default=None)


@contextlib.contextmanager
def deferring() -> Iterator[Pending]:
    """Inside, writes that may wait (`current()`) wait for the caller to send them."""
    pending = Pending()
    token = _current.set(pending)
    try:
        yield pending
    finally:
        _current.reset(token)


def current() -> Pending | None:
    """The writes waiting for this turn's end, or None when every write goes at once."""
    return _current.get()
