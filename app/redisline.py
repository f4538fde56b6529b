"""A connection of its own to one Redis server: for the group commit's leader (app.groupcommit),
and for each worker thread's drain (app.drain), where every message answered costs three trips."""
from __future__ import annotations

import socket
import threading
from typing import Any

import hiredis
import redis
from redis._parsers import BaseParser
from redis.exceptions import InvalidResponse


class Line:
    """A connection of its own to one Redis server, for a group commit's leader (one sends at a
    time, so one connection serves the process) and a worker thread's trips: a batch's commands
    go out in one write, packed by hiredis, and their answers are read by a hiredis Reader of
    its own. redis-py opens the connection (TLS, AUTH, the database, the protocol); its pipeline
    machinery, pool checkout and per-answer handling cost a busy process more CPU than the round
    trip. A failure closes the connection; the next batch opens it again."""

    def __init__(self, connection: redis.Redis) -> None:
        pool = connection.connection_pool
        self._connection = pool.connection_class(**pool.connection_kwargs)
        self._encoder = pool.get_encoder()
        self._reader: hiredis.Reader | None = None
        self._buffer = bytearray(65536)

    def send(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Each command's answer, or the error Redis answered it with. A connection found closed
        (Redis restarted, or dropped it while idle) is opened again and the batch sent once more,
        as redis-py's own retry does; a second failure is the caller's."""
        try:
            return self._send(commands)
        except redis.ConnectionError:
            return self._send(commands)

    def _send(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        try:
            sock = self._socket()
            sock.sendall(b"".join([self._pack(command) for command in commands]))
            return self._answers(sock, len(commands))
        except BaseException as exc:
            self._connection.disconnect()  # what was sent or half read is unknown: start clean
            self._reader = None
            if isinstance(exc, TimeoutError):
                raise redis.TimeoutError(f"Redis did not answer in time: {exc}") from exc
            if isinstance(exc, OSError):
                raise redis.ConnectionError(f"Redis connection lost: {exc}") from exc
            raise

    def _socket(self) -> socket.socket:
        if self._reader is None or self._connection._sock is None:
            self._connection.disconnect()
            self._connection.connect()  # redis-py's handshake; its own reader is left idle
            encoder = self._encoder
            self._reader = hiredis.Reader(protocolError=InvalidResponse, replyError=BaseParser.parse_error,
                                          notEnoughData=_MORE,
                                          **({"encoding": encoder.encoding, "errors": encoder.encoding_errors}
                                             if encoder.decode_responses else {}))
        sock: socket.socket = self._connection._sock
        return sock

    def _pack(self, command: tuple[Any, ...]) -> bytes:
        """hiredis packs what it can (str, bytes, int, float) in C; anything else goes by the
        client's own encoder, which also refuses what Redis cannot take (DataError). A command
        named in two words ("SCRIPT LOAD") is two arguments, as redis-py sends it."""
        if isinstance(command[0], str) and " " in command[0]:
            command = (*command[0].split(), *command[1:])
        try:
            return hiredis.pack_command(command)
        except TypeError:
            return hiredis.pack_command(tuple(bytes(self._encoder.encode(part)) for part in command))

    def _answers(self, sock: socket.socket, count: int) -> list[Any]:
        reader, buffer = self._reader, self._buffer
        assert reader is not None
        answers: list[Any] = []
        while len(answers) < count:
            answer = reader.gets()
            if answer is _MORE:
                read = sock.recv_into(buffer)
                if not read:
                    raise ConnectionResetError("Redis closed the connection")
                reader.feed(buffer, 0, read)
            else:  # an error Redis answered is one answer among the others (redis-py's exception)
                answers.append(answer)
        return answers


_MORE = object()  # what the Reader answers while an answer is not whole yet


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
