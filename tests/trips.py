"""Counting round trips to Redis, for tests that say what a path costs (not how long it takes)."""
from __future__ import annotations

from typing import Any

import pytest
import redis.client

from app import redisline


class Trips:
    """Round trips to Redis: a pipeline sent, a batch sent by a Line, or a command sent on its own."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        execute, command, send = redis.client.Pipeline.execute, redis.Redis.execute_command, redisline.Line.send

        def counted_send(line: Any, commands: Any) -> Any:
            self.count += 1
            return send(line, commands)

        def counted_execute(pipe: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += bool(pipe.command_stack)
            return execute(pipe, *args, **kwargs)

        def counted_command(client: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return command(client, *args, **kwargs)

        monkeypatch.setattr(redis.client.Pipeline, "execute", counted_execute)
        monkeypatch.setattr(redis.Redis, "execute_command", counted_command)
        monkeypatch.setattr(redisline.Line, "send", counted_send)
