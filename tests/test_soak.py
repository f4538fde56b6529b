"""The soak benchmark's two-minute form: 50 messages a second while a worker is killed every 30
seconds, Redis restarts twice, Trading Grid answers 500 for 20 seconds and Graph 429 for 20
seconds. Every message answered once and in order, every confirmed write landed once."""
from __future__ import annotations

import os

import pytest

from bench import soak_bench
from tests import redis_servers


@pytest.mark.skipif(redis_servers.SERVER is None or os.environ.get("TGWA_TEST_REDIS") == "fake",
                    reason="needs redis-server to start and restart one of its own")
def test_two_minutes_of_faults_lose_nothing_double_nothing_and_keep_order() -> None:
    result = soak_bench.run(minutes=2, rate=50, contacts=100)
    print("\n".join(result.lines()))
    assert result.messages == 6000 and result.kills >= 3 and result.redis_restarts == 2
    assert (result.lost, result.doubled, result.out_of_order, result.parked) == (0, 0, 0, 0), result.lines()
    assert result.written_once == result.writes == 100 and result.written_twice == 0
