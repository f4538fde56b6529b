"""A connection of its own to one Redis server: for the group commit's leader (app.groupcommit),
and for each worker thread's drain (app.drain), where every message answered costs three trips."""
from __future__ import annotations

import threading
from typing import Any

import redis


class Line:
    """A connection of its own to one Redis server, for a group commit's leader (one sends at a
    time, so one connection serves the process): a batch's commands go out in one write and their
    answers are read in order, without redis-py's pipeline machinery around them (its objects,
    pool checkout and per-command callbacks cost a busy web process more CPU than the round trip).
    A failure closes the connection; the next batch opens it again."""

    def __init__(self, connection: redis.Redis) -> None:
        pool = connection.connection_pool
        self._socket = pool.connection_class(**pool.connection_kwargs)

    def send(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Each command's answer, or the error Redis answered it with. A connection found closed
        (Redis restarted, or dropped it while idle) is opened again and the batch sent once more,
        as redis-py's own retry does; a second failure is the caller's."""
        try:
            return self._send(commands)
        except redis.ConnectionError:
            return self._send(commands)

    def _send(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        socket = self._socket
        try:
            socket.send_packed_command(socket.pack_commands(commands), check_health=False)
            answers: list[Any] = []
            for _ in commands:
                try:
                    answers.append(socket.read_response())
                except redis.ResponseError as exc:  # read whole: the next answer follows it
                    answers.append(exc)
            return answers
        except BaseException:
            socket.disconnect()  # what was sent or half read is unknown: start clean
            raise


def line(connection: Any) -> Line | None:
    """A Line to `connection` when it is one server reached by redis-py's own sockets; None for a
    Cluster (commands go node by node) and for the embedded store (no socket)."""
    if type(connection) is redis.Redis and connection.connection_pool.connection_class in (
            redis.Connection, redis.SSLConnection, redis.UnixDomainSocketConnection):
        return Line(connection)
    return None


_threads = threading.local()


def for_thread(connection: Any) -> Line | None:
    """This thread's Line to `connection` (as `line` decides whether there is one), kept for the
    thread's life: one connection a worker thread, used by one caller at a time."""
    lines: dict[int, Line | None] = _threads.__dict__.setdefault("lines", {})
    if id(connection) not in lines:
        lines[id(connection)] = line(connection)
    return lines[id(connection)]
