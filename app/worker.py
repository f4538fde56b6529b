"""Running jobs: `tgwa worker` processes on real Redis, or one thread beside the web app in
embedded mode (no REDIS_URL), where the store lives in this process and nothing can fork."""
from __future__ import annotations

import logging
import threading
from typing import Any

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty
from rq.job_lifecycle import call_exception_handlers

from app import inbox, keeper, lens_poller
from app.queues import Job, Queues, passing
from conversations import census, threads

log = logging.getLogger(__name__)
ROUND_IDLE_SECONDS = 1  # the embedded worker waits this long on its queues before it looks at the clock
MAX_JOBS_A_ROUND = 100
WORKER_TTL_SECONDS = 30  # a worker not heard of for this long is gone (the keeper beats every second)
SWEEP_EVERY_SECONDS = 5
TASKS: list[keeper.Task] = [("sweep", SWEEP_EVERY_SECONDS, inbox.sweep_inboxes),
                            ("census", census.REBUILD_EVERY_SECONDS, threads.recount_census),
                            ("lens", 1, lens_poller.due)]


class Worker(SimpleWorker):
    """RQ's worker without a forked horse per job (jobs are short and wait on the network; a fork
    costs more than most jobs): short heartbeats, which its keeper keeps up, and passing failures
    logged as one warning line with their reason. Run more processes for more throughput."""

    job_class = Job  # its retries are scheduled in one transaction (app.queues.Job)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return keeper.HEARTBEAT_SECONDS

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        if not passing(exc_info[1]):
            super().handle_exception(job, *exc_info)
            return
        exc = exc_info[1]
        log.warning("job %s (%s): %s: %s; retried with backoff", job.id, job.func_name, type(exc).__name__, exc)
        call_exception_handlers(self._exc_handlers, job, *exc_info)


def run(queues: Queues, burst: bool = False) -> bool:
    """A worker process, with its keeper (app.keeper) beside it: retries, reminders and the inbox
    sweep move on whichever worker dies."""
    worker = Worker(queues.all(), connection=queues.connection, worker_ttl=WORKER_TTL_SECONDS)
    if burst:
        keeper.upkeep(queues, worker, TASKS)
        return worker.work(burst=True, logging_level="INFO")
    watcher = keeper.Keeper(queues, worker, TASKS)
    watcher.start()
    try:
        return worker.work(logging_level="INFO")
    finally:
        watcher.stop()


class _ThreadWorker(Worker):
    """The worker for a non-main thread, where signal handlers cannot be installed: job timeouts
    use a timer thread instead of SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return None


def run_once(queues: Queues) -> bool:
    """Moves due retries onto their queues and runs every queued job; True if any job ran."""
    enqueue_due_retries(queues)
    worker = _ThreadWorker(queues.all(), connection=queues.connection)
    return worker.work(burst=True, logging_level="WARNING")


def enqueue_due_retries(queues: Queues) -> None:
    """What a keeper does each second, for a process with no keeper (embedded mode, tests)."""
    keeper.move_due_jobs(queues)


class EmbeddedWorker(threading.Thread):
    """The in-process worker of embedded mode; stops when `stop()` is called. It waits on its
    queues (Redis BLPOP, which wakes the moment a job arrives), not in a polling loop: an idle
    demo costs next to nothing. Once a second, or every MAX_JOBS_A_ROUND jobs when busy, it does
    what a keeper does: moves due retries onto their queues and runs the keeper's tasks when due
    (the sweep every few seconds, the Lens poll)."""

    def __init__(self, queues: Queues):
        super().__init__(name="tgwa-embedded-worker", daemon=True)
        self.queues = queues
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                enqueue_due_retries(self.queues)
                keeper.run_due(self.queues.connection, TASKS)
                worker = _ThreadWorker(self.queues.all(), connection=self.queues.connection)
                worker.work(max_idle_time=ROUND_IDLE_SECONDS, max_jobs=MAX_JOBS_A_ROUND, logging_level="WARNING")
            except Exception:  # noqa: BLE001 - the thread must outlive one bad round
                log.exception("embedded worker round failed")
                self._stopping.wait(ROUND_IDLE_SECONDS)

    def stop(self) -> None:
        """Stops within a round (a second, or the job at hand)."""
        self._stopping.set()
