"""What keeps work moving when a worker dies: every worker process runs a keeper thread, and any
one of them does the deployment's upkeep each second, so no single process holds it.

Why not RQ's own scheduler: it runs in one worker at a time under a lock that lives 61 seconds,
and the other workers only try to take it over in their maintenance pass, every ten minutes; a
job whose worker died is only found in that pass too, and only once its 180-second heartbeat has
lapsed. Kill the wrong worker and retries, reminders and the inbox sweep stall for minutes.

Each second, the keeper of every worker process:
- keeps alive what its process holds: the worker's registration, the heartbeat of the job it runs
  (HEARTBEAT_SECONDS, so a dead worker's job lapses within seconds) and the contact locks it holds
  (`hold`, so a dead worker's contacts are free again within seconds);
- then, if no other keeper is at it (a lock of UPKEEP_SECONDS, taken for one round), moves the
  scheduled jobs that are due onto their queues, hands a job whose worker stopped heart-beating (or
  died between taking it and starting it) to RQ to retry, and runs each task it was given when its time has come (the inbox sweep every
  few seconds, the /ops census recount every hour).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from redis.exceptions import LockError, RedisError
from redis.lock import Lock
from rq.intermediate_queue import IntermediateQueue
from rq.scheduler import RQScheduler

from app import keyspace
from app.queues import Queues

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0
HEARTBEAT_SECONDS = 10  # a running job, or a held contact, not heard of for this long was left by a dead worker
UPKEEP_SECONDS = 5      # the most one keeper's round may take before another may do the upkeep
TAKEN_LEFT_SECONDS = HEARTBEAT_SECONDS  # a job taken off its queue and not started this long after a keeper saw it
Task = tuple[str, float, Callable[[], Any]]  # (name, every so many seconds, what to run)

_held: set[Lock] = set()
_held_guard = threading.Lock()


@contextlib.contextmanager
def hold(lock: Lock) -> Iterator[None]:
    """While inside, this process's keeper extends `lock` (made with thread_local=False) every
    round, so its timeout can be short: a lock whose process died lapses within seconds."""
    with _held_guard:
        _held.add(lock)
    try:
        yield
    finally:
        with _held_guard:
            _held.discard(lock)


class Keeper(threading.Thread):
    """The keeper of one worker process (`worker`: its RQ worker, whose heartbeats it keeps)."""

    def __init__(self, queues: Queues, worker: Any, tasks: Sequence[Task]) -> None:
        super().__init__(name="tgwa-keeper", daemon=True)
        self.queues, self.worker, self.tasks = queues, worker, tasks
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            try:
                self.keep_alive()
                upkeep(self.queues, self.worker, self.tasks)
            except RedisError as exc:  # Redis is down: the next round tries again
                log.warning("keeper: %s: %s", type(exc).__name__, exc)
            except Exception:  # noqa: BLE001 - the keeper must outlive one bad round
                log.exception("keeper round failed")

    def stop(self) -> None:
        self._stopping.set()

    def keep_alive(self) -> None:
        """The worker's registration, the heartbeat of each job it runs, the locks it holds."""
        worker = self.worker
        with worker.connection.pipeline() as pipeline:
            worker.heartbeat(pipeline=pipeline)
            for execution in list(worker.executions.values()):
                execution.heartbeat(execution.job.started_job_registry, HEARTBEAT_SECONDS, pipeline=pipeline)
            pipeline.execute()
        with _held_guard:
            held = list(_held)
        for lock in held:
            with contextlib.suppress(Exception):  # released meanwhile, or lost: its holder finds out
                lock.extend(keyspace.CONTACT_LOCK_TTL, replace_ttl=True)


def upkeep(queues: Queues, worker: Any, tasks: Sequence[Task]) -> bool:
    """One round of the deployment's upkeep, unless another keeper is doing it; True if done here."""
    connection = queues.connection
    lock = connection.lock(keyspace.UPKEEP_LOCK, timeout=UPKEEP_SECONDS, thread_local=False)
    if not lock.acquire(blocking=False):
        return False
    try:
        move_due_jobs(queues)
        for queue in queues.all():
            queue.started_job_registry.cleanup()  # a job whose worker stopped heart-beating: retried
            Taken(queue.key, connection).cleanup(worker, queue)  # taken off a queue by a worker that died
        run_due(connection, tasks)
    finally:
        with contextlib.suppress(LockError):  # a round past UPKEEP_SECONDS: another may have begun
            lock.release()
    return True


class Taken(IntermediateQueue):
    """RQ's list of the jobs workers took off a queue and have not started yet (milliseconds, for
    a live worker). One still there TAKEN_LEFT_SECONDS after a keeper first saw it was taken by a
    worker that died, and goes back for a retry: RQ waits a minute, longer than a person should."""

    def should_be_cleaned_up(self, job_id: str) -> bool:
        seen = self.get_first_seen(job_id)
        return seen is not None and dt.datetime.now(dt.timezone.utc) - seen > dt.timedelta(seconds=TAKEN_LEFT_SECONDS)


def run_due(connection: Any, tasks: Sequence[Task]) -> None:
    """Each task whose interval has passed since it last ran anywhere in the deployment."""
    for name, every, task in tasks:
        last, now = connection.get(keyspace.keeper_ran_key(name)), time.time()
        if last is None or now - float(last) >= every:
            connection.set(keyspace.keeper_ran_key(name), now, ex=int(every) + 60)
            task()


def move_due_jobs(queues: Queues) -> None:
    """Scheduled jobs (retries, reminders, escalations) whose time has come go onto their queues,
    by RQ's own scheduler code (each job taken off its schedule and queued in one transaction),
    without its lock: the upkeep lock keeps it to one keeper at a time."""
    names = [queue.name for queue in queues.all()]
    scheduler = RQScheduler(names, connection=queues.connection)
    scheduler._connection = queues.connection  # this one, not a new pool of the same kind per call
    scheduler.prepare_registries(names)
    scheduler.enqueue_scheduled_jobs()
