"""RQ queues and how work is put on them. Names, jobs and retry policy live here, in one place.

Queues, in the order a worker takes them: `inbound` (a person is waiting for an answer),
`writes` (Trading Grid writes), `outbound` (sends retried after a failure), `events`
(Trading Grid events, which fan out into sends).

Jobs are named by dotted path: each lives beside its concept, and whoever queues work names the
job without importing the module that does it, so queuing never pulls a higher layer in.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import re
from typing import Any

import redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq import job as rq_job

from app import redisline
from app.tradinggrid.port import TransientError
from app.whatsapp.errors import GraphError

log = logging.getLogger(__name__)

INBOUND, WRITES, OUTBOUND, EVENTS = "inbound", "writes", "outbound", "events"
ORDER = (INBOUND, WRITES, OUTBOUND, EVENTS)

DRAIN_READY = "app.drain.drain_ready"            # a drainer taking ready contacts (app.ready)
DRAIN_CONTACT = "app.drain.drain_contact"        # one contact's messages: a retry, a flood's next turn
SEND_MESSAGE = "app.outbound.send_message"       # a send retried after a passing failure
APPLY_STATUSES = "app.delivery.apply_statuses"   # Meta's statuses of sent messages
SEND_FAILED = "app.send_failures.act"            # a send Meta refused, or failed later: what follows
HANDLE_EVENT = "app.notifications.handle_event"  # a Trading Grid event, into notices
HANDLE_EVENTS = "app.notifications.handle_events"  # events the webhook took together, in turn
SEND_NOTICES = "app.notifications.send_notices"  # one batch of a fanned-out event
WRITE = "app.writes.write_job"                   # a Trading Grid write retried in the background
REMIND_ONBOARDING = "app.reminders.remind_onboarding"
ALERT_DEADLINE = "app.reminders.alert_deadline"
ASSIGNMENT_CHECK = "app.reminders.assignment_check"
END_WAIT = "conversations.waits.end"             # a confirmation unanswered for too long, dropped
ASK_FILES = "conversations.media.gathered"       # the files a person sent together, asked about once
HOLD_CHECK = "conversations.holding.check"       # a held case silent for 24 hours goes back to the bot
LENS_POLL = "app.lens_poller.poll_job"          # failed transactions read from Lens, made cases
JOBS = (DRAIN_READY, DRAIN_CONTACT, SEND_MESSAGE, APPLY_STATUSES, SEND_FAILED, HANDLE_EVENT, HANDLE_EVENTS, SEND_NOTICES, WRITE,
        REMIND_ONBOARDING, ALERT_DEADLINE, ASSIGNMENT_CHECK, END_WAIT, ASK_FILES, HOLD_CHECK, LENS_POLL)
# Backoff for transient failures: about 4 hours in all before a job is given up to the failed list.
BACKOFF = [1, 2, 5, 10, 30, 60, 120, 300] + [600] * 22
JOB_TIMEOUT = 120
# A finished job and its result are dropped at once: nothing reads them, and RQ's result stream
# costs ~5 KB a job. Failed jobs stay FAILURE_TTL; parked work is tgwa's own list (app.parked).
RESULT_TTL = 0
FAILURE_TTL = 30 * 24 * 3600


def passing(exc: BaseException | None) -> bool:
    """A failure the code expects to pass (Trading Grid or Graph down or busy, Redis away): the
    work is retried with backoff, and the log gets one line for it, not a traceback."""
    return isinstance(exc, (TransientError, RedisError)) or (isinstance(exc, GraphError) and exc.retryable)


def backoff() -> Retry:
    """RQ's retry policy with jitter, so jobs that failed together do not all come back together."""
    return Retry(max=len(BACKOFF), interval=[round(b * random.uniform(0.8, 1.2), 1) for b in BACKOFF])


class Job(rq_job.Job):
    """RQ's job with one hole closed. RQ's `retry` marks the job scheduled in Redis at once, then
    schedules it in the worker's transaction; a worker killed between the two left a job marked
    scheduled that no schedule held, and the keeper's cleanup (which retries only a job still
    marked started) dropped it: a write lost for good. Here the mark goes in that transaction."""

    def retry(self, queue: Queue, pipeline: Pipeline) -> None:
        interval = self.get_retry_interval()
        if not interval:  # queued again at once, all in the transaction: no hole
            super().retry(queue, pipeline)
            return
        assert self.retries_left, "RQ retries only a job with tries left"
        self.retries_left -= 1
        at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=interval)
        queue.schedule_job(self, at, pipeline=pipeline)  # saved as scheduled, with the schedule
        log.info("job %s: to be tried again at %s, %s tries left", self.id, at, self.retries_left)


class Queues:
    def __init__(self, connection: redis.Redis):
        self.connection = connection
        self.by_name = {name: Queue(name, connection=connection, default_timeout=JOB_TIMEOUT, job_class=Job)
                        for name in ORDER}

    def all(self) -> list[Queue]:
        return [self.by_name[name] for name in ORDER]

    def waiting(self) -> bool:
        """Whether any queue has a job waiting for a worker (one round trip, by the thread's own
        Line where there is one: a lingering drainer asks before every wait)."""
        commands = [("LLEN", self.by_name[name].key) for name in ORDER]
        line = redisline.for_thread(self.connection)
        if line is not None:
            return any(line.send(commands))
        pipe = self.connection.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return any(pipe.execute())

    def enqueue_at(self, name: str, when: float, func: Any, *args: Any, job_id: str) -> Any:
        """A job for later (a reminder, an escalation), kept in Redis so it survives restarts;
        the same `job_id` scheduled twice is one job."""
        moment = dt.datetime.fromtimestamp(when, dt.timezone.utc)
        job_id = re.sub(r"[^A-Za-z0-9_-]", "_", job_id)  # what RQ allows in an id
        return self.by_name[name].enqueue_at(moment, func, *args, job_id=job_id, result_ttl=RESULT_TTL,
                                             failure_ttl=FAILURE_TTL, retry=backoff())

    def enqueue_on(self, pipe: Any, name: str, func: Any, *args: Any) -> None:
        """`enqueue`'s job (with retries), its commands queued on `pipe` to share the caller's round
        trip; a quarter of `enqueue`'s CPU, which does more for one job than a webhook for dozens."""
        self.by_name[name].enqueue_many([Queue.prepare_data(func, args, retry=backoff(), result_ttl=RESULT_TTL,
                                                            failure_ttl=FAILURE_TTL)], pipeline=pipe)

    def enqueue(self, name: str, func: Any, *args: Any, retry: bool = True, **options: Any) -> Any:
        return self.by_name[name].enqueue(func, *args, retry=backoff() if retry else None,
                                          result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL, **options)
