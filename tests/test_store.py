"""Scripts in one round trip with the rest, and Redis forgetting them (a restart, SCRIPT FLUSH):
the scripts are loaded again and only they are sent again, so nothing else runs twice."""
from __future__ import annotations

from typing import Any

import pytest

from app import redisline, scripts

COUNT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


def send(rt: Any, by: redisline.Line | None) -> list[Any]:
    def build(pipe: Any) -> None:
        pipe.execute_command("INCR", "tgwa:test:plain")  # as the Line takes commands
        scripts.evalsha(pipe, COUNT, ["tgwa:test:scripted"], [10])
        pipe.execute_command("INCR", "tgwa:test:plain")  # as the Line takes commands
    return scripts.run(rt.redis, build, by)


@pytest.mark.parametrize("path", ["pipeline", "line"])
def test_a_script_redis_forgot_is_loaded_and_sent_again_alone(rt, path: str) -> None:
    by = redisline.line(rt.redis) if path == "line" else None
    if path == "line" and by is None:
        pytest.skip("the embedded store has no socket for a Line; the pipeline case covers it")
    assert send(rt, by) == [1, 10, 2]
    rt.redis.script_flush()
    assert send(rt, by) == [3, 20, 4], "the plain commands ran once each, the script once"
    assert rt.redis.get("tgwa:test:scripted") == b"20"
