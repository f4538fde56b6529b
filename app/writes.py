"""Landing a Trading Grid write once, by one policy, whether a conversation's turn makes it or a
job tries it again in the background.

Each write is keyed (its idempotency key is the same on every try), so a retry after a timeout
lands once. A passing failure is tried again by a job (when Trading Grid said when, then); a
refusal is parked for a person, and the person the write was for is told, in their language."""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from app import outbound, parked, queues, runtime
from app.runtime import Runtime
from app.tradinggrid import bodies
from app.tradinggrid.port import PermanentError, Record, TransientError
from app.whatsapp import messages
from conversations import say

log = logging.getLogger(__name__)
PENDING = "pending"  # a write that Trading Grid did not take yet; a job will land it


@dataclasses.dataclass(frozen=True)
class Write:
    """One logical Trading Grid write: what it sends, its key, and who hears if it is refused."""

    body: bodies.Body      # what is written (app.tradinggrid.bodies), the port method it goes to
    key: str               # the idempotency key, the same on every try
    notify: str | None = None  # the wa_id told if Trading Grid refuses it, in their language
    told: bool = False  # they were told of a refusal before (a parked write retried): not again

    def as_job(self) -> list[Any]:
        """The job's arguments (`write_job`), plain JSON."""
        return [self.body.OPERATION, self.body.args(), self.key, self.notify, self.told]


def land(rt: Runtime, write: Write, tell: Callable[[str], None] | None = None,
         retrying: bool = False) -> Record | str | None:
    """Trading Grid's answer; PENDING when a job will try again; None when Trading Grid refused
    it (parked, and the person told: by `tell` when given, else in a message to `notify`).
    `retrying`: this is that job, and a passing failure raises, for RQ's backoff."""
    try:
        answer: Record = getattr(rt.tradinggrid, write.body.OPERATION)(*write.body.args(), idempotency_key=write.key)
        return answer
    except TransientError as exc:
        if retrying and exc.retry_after is None:
            raise
        log.info("Trading Grid write %s deferred: %s", write.key, exc.reason)
        if exc.retry_after is None:
            rt.queues.enqueue(queues.WRITES, write_job, *write.as_job())
        else:  # Trading Grid said when: ask again then, not before
            at = time.time() + exc.retry_after
            rt.queues.enqueue_at(queues.WRITES, at, write_job, *write.as_job(), job_id=f"write-{write.key}-{int(at)}")
        return PENDING
    except PermanentError as exc:
        log.warning("Trading Grid refused %s (%s); parked", write.key, exc.reason)
        parked.park(rt.redis, "write", exc.reason, {"operation": write.body.OPERATION, "args": write.body.args(),
                                                    "idempotency_key": write.key, "notify": write.notify})
        if write.told:
            return None
        person = rt.directory.person(write.notify) if write.notify else None
        body = say.text(person.language if person else "en", "write_failed")
        if tell is not None:
            tell(body)
        elif write.notify:
            outbound.deliver(rt, messages.text(write.notify, body), f"parked:{write.key}")
        return None


def write_job(operation: str, args: list[Any], idempotency_key: str, notify: str | None = None,
              told: bool = False) -> Record | str | None:
    """A job: a write tried again in the background (also what a parked write is retried as,
    `told`: its person heard of the refusal already, and is not told again if it fails again)."""
    return land(runtime.current(), Write(bodies.read(operation, args), idempotency_key, notify, told), retrying=True)
