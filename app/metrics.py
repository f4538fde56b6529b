"""Prometheus metrics. With PROMETHEUS_MULTIPROC_DIR set (gunicorn with several workers),
`/metrics` aggregates every process of the machine, as prometheus-client documents."""
from __future__ import annotations

import functools
import os
from typing import Any

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)

REQUESTS = Counter("tgwa_http_requests_total", "HTTP requests by endpoint and status", ["endpoint", "status"])
MESSAGES_IN = Counter("tgwa_messages_in_total", "Inbound WhatsApp messages recorded, by type", ["type"])
MESSAGES_OUT = Counter("tgwa_messages_out_total", "Outbound WhatsApp messages sent, by type", ["type"])
STATUSES_IN = Counter("tgwa_statuses_in_total", "Delivery statuses received, by status", ["status"])
DEDUPE_HITS = Counter("tgwa_dedupe_hits_total", "Deliveries recognised as duplicates", ["source"])
EVENTS_IN = Counter("tgwa_events_in_total", "Trading Grid events accepted, by type", ["type"])
JOB_LATENCY = Histogram("tgwa_job_latency_seconds", "Time from enqueue to job end, by job", ["job"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))


@functools.cache
def labelled(metric: Any, *values: str) -> Any:
    """`metric.labels(*values)`, looked up once per process: the webhook's counters move on every
    request and message, and each labels() call takes a lock and builds its key again."""
    return metric.labels(*values)


def render() -> tuple[bytes, str]:
    """The exposition text of this process, or of every process when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
