"""Building and signing what Meta and Trading Grid send."""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from app.signatures import sign, tradinggrid_payload
from tests.conftest import APP_SECRET, EVENTS_SECRET

_ids = itertools.count(1)


def envelope(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None,
             name: str = "Test Person") -> dict[str, Any]:
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}}
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": m["from"]} for m in messages[:1] if "from" in m]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "419561257915477", "changes": [{"value": value, "field": "messages"}]}]}


def text(sender: str, body: str, message_id: str | None = None, timestamp: int | None = None,
         **extra: Any) -> dict[str, Any]:
    return {"from": sender, "id": message_id or f"wamid.test.{next(_ids)}",
            "timestamp": str(timestamp or int(time.time())), "type": "text", "text": {"body": body}, **extra}


def post_whatsapp(client: Any, body: Any, secret: str = APP_SECRET, signature: str | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json",
               "X-Hub-Signature-256": signature if signature is not None else sign(secret, raw)}
    return client.post("/webhooks/whatsapp", data=raw, headers=headers)


def post_event(client: Any, event: Any, secret: str = EVENTS_SECRET, timestamp: int | None = None,
               raw: bytes | None = None) -> Any:
    body = raw if raw is not None else json.dumps(event).encode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return client.post("/webhooks/tradinggrid", data=body, headers={
        "Content-Type": "application/json", "X-TG-Timestamp": ts,
        "X-TG-Signature": sign(secret, tradinggrid_payload(ts, body))})


def at_once(call: Callable[[Any], Any], items: list[Any], seconds: float = 10) -> list[Any]:
    """`call(item)` for every item at the same moment, each from its own thread (as Meta's
    deliveries overlap); each answer, or the exception it raised, in the items' order."""
    answers: list[Any] = [None] * len(items)
    start = threading.Barrier(len(items))

    def one(n: int) -> None:
        start.wait()
        try:
            answers[n] = call(items[n])
        except Exception as exc:  # noqa: BLE001 - handed back for the test to judge
            answers[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds)
    assert not any(thread.is_alive() for thread in threads), "a call was left waiting"
    return answers
