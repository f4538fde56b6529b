"""Liveness, readiness naming what failed, and Prometheus metrics that count what happened."""
from __future__ import annotations

import redis

from app import create_app, runtime
from tests.conftest import make_settings
from tests.helpers import envelope, post_whatsapp, text


def test_healthz(client) -> None:
    assert client.get("/healthz").status_code == 200


def test_readyz_when_everything_answers(client) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ready"}


def test_readyz_names_what_failed(tmp_path, graph) -> None:
    settings = make_settings(tmp_path, graph.url, "http://127.0.0.1:1")
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    client = create_app(rt=runtime.build(settings, connection=dead), start_worker=False).test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert set(answer.get_json()["failed"]) == {"redis", "tradinggrid"}


def metric(client, line_start: str) -> float:  # type: ignore[no-untyped-def]
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_messages_dedupe_and_jobs(client, work) -> None:
    requests_before = metric(client, 'tgwa_http_requests_total{endpoint="/webhooks/whatsapp",status="200"}')
    texts_before = metric(client, 'tgwa_messages_in_total{type="text"}')
    dupes_before = metric(client, 'tgwa_dedupe_hits_total{source="whatsapp"}')
    out_before = metric(client, 'tgwa_messages_out_total{type="text"}')
    body = envelope(text("4915123456789", "hello"))
    post_whatsapp(client, body)
    post_whatsapp(client, body)
    work()
    assert metric(client, 'tgwa_http_requests_total{endpoint="/webhooks/whatsapp",status="200"}') == requests_before + 2
    assert metric(client, 'tgwa_messages_in_total{type="text"}') == texts_before + 1
    assert metric(client, 'tgwa_dedupe_hits_total{source="whatsapp"}') == dupes_before + 1
    assert metric(client, 'tgwa_messages_out_total{type="text"}') == out_before + 1
    assert metric(client, 'tgwa_job_latency_seconds_count{job="drain_contact"}') >= 1


def test_unknown_routes_and_methods_answer_json_not_html(client) -> None:
    assert client.get("/nowhere").status_code == 404
    answer = client.put("/webhooks/whatsapp")
    assert answer.status_code == 405 and "error" in answer.get_json()


def test_sandbox_is_only_there_when_enabled(client, tmp_path, graph, redis_conn) -> None:
    assert client.get("/sandbox").status_code == 404
    settings = make_settings(tmp_path, graph.url, None, SANDBOX="1")
    sandbox = create_app(rt=runtime.build(settings, connection=redis_conn), start_worker=False).test_client()
    page = sandbox.get("/sandbox")
    assert page.status_code == 200 and "Jana Weber" in page.get_data(as_text=True)
    assert sandbox.get("/sandbox/api/outbox").get_json() == {"outbox": []}
