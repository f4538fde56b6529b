"""Running jobs: `tgwa worker` processes on real Redis, or one thread beside the web app in
embedded mode (no REDIS_URL), where the store lives in this process and nothing can fork."""
from __future__ import annotations

import logging
import threading
import time

from rq import SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.timeouts import TimerDeathPenalty

from app.queues import Queues

log = logging.getLogger(__name__)
IDLE_SLEEP_SECONDS = 0.05


def start_sweeping(queues: Queues) -> None:
    """Makes sure the inbox sweep (app.jobs.sweep_inboxes) is scheduled; every worker asks, one
    job results (its id names the minute)."""
    from app import jobs
    from app.queues import INBOUND

    at = time.time() + jobs.SWEEP_EVERY_SECONDS
    queues.enqueue_at(INBOUND, at, jobs.sweep_inboxes, job_id=f"sweep-{int(at) // jobs.SWEEP_EVERY_SECONDS}")


def run(queues: Queues, burst: bool = False) -> bool:
    """A worker process. Jobs are short and wait on the network, so they run in the worker itself
    rather than in a forked horse per job (a fork costs more than most jobs); run more processes
    for more throughput. Retries are scheduled by RQ's scheduler."""
    start_sweeping(queues)
    worker = SimpleWorker(queues.all(), connection=queues.connection)
    return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


class _ThreadWorker(SimpleWorker):
    """SimpleWorker for a non-main thread, where signal handlers cannot be installed: job
    timeouts use a timer thread instead of SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return None


def run_once(queues: Queues) -> bool:
    """Moves due retries onto their queues and runs every queued job; True if any job ran."""
    enqueue_due_retries(queues)
    worker = _ThreadWorker(queues.all(), connection=queues.connection)
    return worker.work(burst=True, logging_level="WARNING")


def enqueue_due_retries(queues: Queues) -> None:
    """What RQ's scheduler process does, for a process that cannot start one (embedded mode)."""
    for queue in queues.all():
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_jobs_to_schedule(int(time.time())):
            job = Job.fetch(job_id.decode() if isinstance(job_id, bytes) else job_id, connection=queues.connection)
            registry.remove(job)
            queue.enqueue_job(job)


class EmbeddedWorker(threading.Thread):
    """The in-process worker of embedded mode; stops when `stop()` is called."""

    def __init__(self, queues: Queues):
        super().__init__(name="tgwa-embedded-worker", daemon=True)
        self.queues = queues
        self._stopping = threading.Event()

    def run(self) -> None:
        start_sweeping(self.queues)
        while not self._stopping.is_set():
            try:
                worked = run_once(self.queues)
            except Exception:  # noqa: BLE001 - the thread must outlive one bad round
                log.exception("embedded worker round failed")
                worked = False
            if not worked:
                self._stopping.wait(IDLE_SLEEP_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
