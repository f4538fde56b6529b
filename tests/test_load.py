"""The load test of bench/load_bench.py in a short form: 2 web and 2 worker processes, one Redis,
2,000 messages from 200 contacts with every tenth delivered twice, as fast as the stack takes them.
Every message is answered exactly once and every contact's answers come in its order."""
from __future__ import annotations

import pytest

from bench import load_bench
from tests.conftest import REAL, REAL_REDIS_URL

pytestmark = pytest.mark.skipif(REAL is None, reason="the load test needs a Redis server")


def test_two_thousand_messages_from_two_hundred_contacts() -> None:
    result = load_bench.run(messages=2_000, contacts=200, redis_url=REAL_REDIS_URL.rsplit("/", 1)[0] + "/13")
    assert result.problems == []
    assert result.answered_once and result.in_order
    assert result.messages == 2_200 and len(result.latencies) == 2_000
