"""What a drain's take prepares, in its own round trip, for the sends of the turn it starts
(app.drain, app.outbound), so that a message answered costs two trips to Redis, not three.

A send is claimed in Redis before it leaves so that a turn replayed after its worker died does
not send again what already left. The take knows when no claim is needed: the first time a
message is taken, nothing its turn sends (keyed by its id, to its sender) can have left before.
Those sends leave unclaimed, at the moments the take reserved beside the message (the sender's
pair limit in the take's script, the deployment's rate in the same trip), and their records are
written in the trip that ends the turn, as every send's is.

Every later take of the message says how the try before it ended. Knowing what it sent (a
passing failure after its records were kept, or a message put back from the parked list): its
sends are claimed one by one as any other send. Not knowing (its worker died, its lock lapsed):
one it sent may have no record yet, so a send with none waits, until DOUBT_SECONDS after that
try took the message, for Meta's status to name it (statuses carry the record's name, and fill
in a record that is not there: app.outbound.queue_left) before it is sent.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

from app import inbox, keyspace, pace, scripts
from app.runtime import Runtime

# A moment reserved ahead serves a send at most this late; after, another is reserved. Moments
# are WHATSAPP_MAX_MPS*SAFETY a second: sends no more than ~10 ms late keep every second under it.
STALE_SECONDS = 0.005
DOUBT_SECONDS = 20.0  # Meta's `sent` status follows its send call within a second or two


@dataclasses.dataclass
class Moment:
    """A moment reserved ahead: when it comes on this process's monotonic clock, and what the
    pace key was set to, to give it back unused."""

    key: str
    at: float
    set_to: int
    interval: int

    @classmethod
    def of(cls, key: str, answer: tuple[int, int, int] | list[Any], interval: int, received: float) -> Moment:
        """From a reservation's answer (moment, now, set to: µs), received at `received`."""
        moment, now, set_to = (int(part) for part in answer[:3])
        return cls(key, received + max(moment - now, 0) / 1e6, set_to, interval)

    def give_back(self, pipe: Any) -> None:
        scripts.evalsha(pipe, scripts.GIVE_BACK, [self.key], [self.set_to, self.interval])


@dataclasses.dataclass
class Prepared:
    """A turn's sends, as its take prepared them."""

    contact: str
    message_id: str
    unclaimed: bool  # the message's first try: its sends need no claim
    doubt_since: float | None  # a try that may have sent unclaimed took the message then (s)
    pair: Moment | None = None
    slot: Moment | None = None
    replicated: bool = False  # the take is on the replicas (REDIS_WAIT_REPLICAS), as a claim would be

    def covers(self, recipient: str, key: str) -> bool:
        """Whether a send is this turn's own: to its contact, keyed by its message."""
        return recipient == self.contact and key.startswith(f"{self.message_id}:")

    def doubt(self) -> float | None:
        """When a send with no record must wait for Meta's word: the doubtful try's time, until
        DOUBT_SECONDS after it."""
        if self.doubt_since is not None and time.time() < self.doubt_since + DOUBT_SECONDS:
            return self.doubt_since
        return None

    def waits(self, rt: Runtime) -> tuple[float, float | None]:
        """For an unclaimed send: the seconds until the pair limit lets it leave, and until the
        deployment's rate does (None: no fresh moment; reserve one when the pair's is come). The
        first send takes the moments the take reserved; a later one reserves its own, in one trip."""
        pair, slot = self.pair, self.slot
        self.pair = self.slot = None
        if pair is None:
            return pace.reserve(rt, self.contact)
        now = time.monotonic()
        if slot is None or now > slot.at + STALE_SECONDS:
            return max(pair.at - now, 0.0), None
        return max(pair.at - now, 0.0), max(slot.at - now, 0.0)

    def give_back(self, pipe: Any) -> None:
        """Queues on `pipe` the giving back of the moments no send took."""
        for moment in (self.pair, self.slot):
            if moment is not None:
                moment.give_back(pipe)
        self.pair = self.slot = None


def prepare(rt: Runtime, contact: str, head: inbox.Head, slot: list[Any] | None, received: float) -> Prepared:
    """What the take of `head` (with the deployment's moment `slot` when one was reserved beside
    it, answered at `received`) prepared for its turn's sends."""
    pair = Moment.of(keyspace.pair_pace_key(contact), head.pair, pace.PAIR_INTERVAL_US, received)
    moment = None
    if slot is not None:
        moment = Moment.of(keyspace.GLOBAL_PACE, slot, pace.slot_interval(rt), received)
    before = head.before
    # Taken before with no time noted (by a version that claimed every send), or KEPT: claimed.
    unclaimed = before is None and head.tries == 1
    doubt = int(before) / 1e6 if before not in (None, inbox.KEPT) else None
    return Prepared(contact, head.message_id, unclaimed, doubt, pair, moment)


_current: contextvars.ContextVar[Prepared | None] = contextvars.ContextVar("sendahead", default=None)


@contextlib.contextmanager
def preparing(prepared: Prepared) -> Iterator[None]:
    """Inside, the turn's sends find what its take prepared (`covering`)."""
    token = _current.set(prepared)
    try:
        yield
    finally:
        _current.reset(token)


def covering(recipient: str, key: str) -> Prepared | None:
    """What the take of the turn under way prepared for this send, if it is the turn's own."""
    prepared = _current.get()
    return prepared if prepared is not None and prepared.covers(recipient, key) else None
