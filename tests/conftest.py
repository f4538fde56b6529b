"""Fixtures: real Redis when one answers (fakeredis otherwise), loopback Graph and Trading Grid
servers, and the app built from the same factory as production with test settings."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import fakeredis
import pytest
import redis

from app import create_app, runtime
from app.settings import Settings
from app.tradinggrid.embedded import EmbeddedTradingGrid
from app.tradinggrid.server import create_server
from app.worker import run_once
from tests.fake_graph import PHONE_NUMBER_ID, TOKEN, FakeGraph
from tests.loopback import serve

FIXTURES = Path(__file__).parent / "fixtures"
# One database per pytest-xdist worker (`make test-quick` runs two): each flushes only its own.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REAL_REDIS_URL = os.environ.get("TGWA_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - _WORKER}")
APP_SECRET, VERIFY_TOKEN, EVENTS_SECRET = "test-app-secret", "test-verify-token", "test-events-secret"


def _real_redis() -> redis.Redis | None:
    """The real server, unless TGWA_TEST_REDIS=fake; TGWA_TEST_REDIS=real insists on it."""
    mode = os.environ.get("TGWA_TEST_REDIS", "auto")
    if mode == "fake":
        return None
    try:
        connection = redis.Redis.from_url(REAL_REDIS_URL, socket_connect_timeout=0.5)
        connection.ping()
        return connection
    except redis.RedisError:
        if mode == "real":
            raise
        return None


REAL = _real_redis()


# Modules that start processes, servers or a Redis of their own, or run for minutes: `make
# test-quick` leaves them out (pytest -m "not slow"); `make test` runs everything.
SLOW_MODULES = {"test_processes", "test_process_faults", "test_load", "test_cluster", "test_cluster_failover",
                "test_soak", "test_serving", "test_cli_beside_demo", "test_screenshots"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def pytest_report_header() -> str:
    return f"tgwa: Redis = {'real, ' + REAL_REDIS_URL if REAL else 'fakeredis (no Redis answered)'}"


@pytest.fixture
def redis_conn() -> Iterator[redis.Redis]:
    connection = REAL if REAL is not None else fakeredis.FakeRedis(server=fakeredis.FakeServer())
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    with serve(fake.app) as url:
        fake.url = url
        yield fake


@pytest.fixture
def grid(tmp_path: Path) -> EmbeddedTradingGrid:
    """The Trading Grid behind the loopback server: what tests read to see what was written."""
    return EmbeddedTradingGrid(tmp_path / "tradinggrid.sqlite3")


@pytest.fixture
def tradinggrid_url(grid: EmbeddedTradingGrid) -> Iterator[str]:
    with serve(create_server(grid)) as url:
        yield url


def make_settings(tmp_path: Path, graph_url: str, tradinggrid_url: str | None, **extra: str) -> Settings:
    values = {
        "APP_ENV": "development", "WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_ACCESS_TOKEN": TOKEN, "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_API_BASE": f"{graph_url}/v23.0", "TRADING_GRID_EVENTS_SECRET": EVENTS_SECRET,
        "DIRECTORY_FILE": str(FIXTURES / "directory.yaml"), "DATA_DIR": str(tmp_path / "data"),
        "QUIET_HOURS": "off", **extra,
    }
    if tradinggrid_url:
        values["TRADING_GRID_URL"] = tradinggrid_url
    return Settings.from_mapping(values)


@pytest.fixture
def settings(tmp_path: Path, graph: FakeGraph, tradinggrid_url: str) -> Settings:
    return make_settings(tmp_path, graph.url, tradinggrid_url)


@pytest.fixture
def rt(settings: Settings, redis_conn: redis.Redis) -> runtime.Runtime:
    built = runtime.build(settings, connection=redis_conn)
    runtime.install(built)
    return built


@pytest.fixture
def client(rt: runtime.Runtime):  # type: ignore[no-untyped-def]
    return create_app(rt=rt, start_worker=False).test_client()


@pytest.fixture
def work(rt: runtime.Runtime) -> Callable[[], None]:
    """Runs the worker until no job is left, as `tgwa worker --burst` would."""
    def run() -> None:
        for _ in range(50):
            if not run_once(rt.queues):
                return
        raise AssertionError("jobs kept coming after 50 rounds")
    return run
