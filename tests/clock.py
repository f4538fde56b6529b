"""Time passing, for tests: every job waiting for its backoff or its hour falls due at once."""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from rq.registry import ScheduledJobRegistry

from app.worker import enqueue_due_retries


def time_passes(rt: Any, work: Callable[[], None], rounds: int = 12, seconds: float | None = None) -> None:
    """Every scheduled job (retries, a flood's later turn, a day's wait running out) is due now
    and runs, `rounds` times over, so that retries scheduled by retries run too; with `seconds`,
    only the jobs due within that many seconds of now. The keepers' sweep is left alone."""
    for _ in range(rounds):
        for queue in rt.queues.all():
            registry = ScheduledJobRegistry(queue=queue)
            due = registry.get_job_ids() if seconds is None else registry.get_jobs_to_schedule(int(time.time() + seconds))
            for job_id in due:
                job = queue.fetch_job(job_id)
                if job is not None and job.func_name != "app.inbox.sweep_inboxes":
                    registry.schedule(job, dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
        enqueue_due_retries(rt.queues)
        work()
