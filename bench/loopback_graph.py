"""A fast stand-in for Meta's Graph API `/messages` on loopback, for benchmarks: asyncio, HTTP/1.1
keep-alive, answers like Meta, and notes when each message arrived. Run in its own process so
it does not share a core's Python with what is measured."""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
import time
from typing import Any

# Ids as long as Meta's (base64 of about 45 bytes), so what is kept per message is measured true.
ANSWER = (b'{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],'
          b'"messages":[{"id":"wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSQkVOQ0gx%016dAA="}]}')


def _arrival(body: bytes) -> list[Any]:
    """[when, to whom, the message it answers] for a reply."""
    sent = json.loads(body)
    return [time.time(), sent.get("to"), (sent.get("context") or {}).get("message_id")]


async def _serve(port: int, arrivals_path: str, expected: int, ready: Any, record_replies: bool) -> None:
    arrivals: list[float] = []
    done = asyncio.Event()
    counter = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal counter
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                if b'"status":"read"' in body or b'"status": "read"' in body:
                    payload = b'{"success":true}'
                else:
                    counter += 1
                    arrivals.append(_arrival(body) if record_replies else time.time())
                    payload = ANSWER % counter
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(payload)).encode() + b"\r\n\r\n" + payload)
                await writer.drain()
                if len(arrivals) >= expected:
                    done.set()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    ready.set()
    async with server:
        try:
            await asyncio.wait_for(done.wait(), timeout=600)
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(1.0)  # anything sent twice would arrive now
    with open(arrivals_path, "w") as out:
        json.dump(arrivals, out)


def _run(port: int, arrivals_path: str, expected: int, ready: Any, record_replies: bool) -> None:
    asyncio.run(_serve(port, arrivals_path, expected, ready, record_replies))


def start(port: int, arrivals_path: str, expected: int, record_replies: bool = False) -> multiprocessing.Process:
    """Starts the server in a process; it stops on its own after `expected` messages (or 10 min)
    and writes their arrival times (unix seconds, JSON) to `arrivals_path`; with `record_replies`,
    [time, recipient, the message id the reply quotes] for each."""
    ready = multiprocessing.Event()
    process = multiprocessing.Process(target=_run, args=(port, arrivals_path, expected, ready, record_replies),
                                      daemon=True)
    process.start()
    if not ready.wait(10):
        sys.exit("loopback Graph server did not start")
    return process
