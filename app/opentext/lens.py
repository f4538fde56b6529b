"""Lens: failed transactions, by the GraphQL query of OpenText's collection (contract section 8).

One query: status `Failed`, arrival time in a range, oldest first, scrolling (`scroll: true`,
then the `scrollid` each answer gives, until a page comes back short or empty), with the content
keys that carry a PO, invoice or shipment number. Values are written into the query as GraphQL
string literals, as the collection does, rather than as variables."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from app.opentext.client import OpenText, OpenTextError

API = "Lens"
PATH = "/visibility_transaction_search"
PAGE = 100
CONTENT_KEYS = ("purchase order number", "invoice number", "shipment identification")
FIELDS = ("transactionid correlationid arrivaltime status editype transactionlevel sendername senderaddress "
          "receivername receiveraddress errorcode externalerrormessage "
          f"contentkeys(names: [{' '.join(json.dumps(k) for k in CONTENT_KEYS)}]) {{ key value }}")


@dataclasses.dataclass(frozen=True)
class Transaction:
    id: str
    arrival: str  # RFC 3339
    status: str
    editype: str
    sender: tuple[str, ...]    # name and address, as Lens gives them
    receiver: tuple[str, ...]
    error_code: str
    error_message: str
    content_keys: dict[str, str]

    @property
    def parties(self) -> tuple[str, ...]:
        return self.sender + self.receiver


def query(since: str, until: str, scrollid: str | None = None, count: int = PAGE) -> str:
    scroll = f"scrollid: {json.dumps(scrollid)}" if scrollid else ""
    return ("query failedTransactions { getTransactions(query: {"
            f" scroll: true {scroll} count: {count}"
            " sortby: {field: arrivaltime type: ASC} contentKeyFilters: []"
            f" ranges: {{field: arrivaltime from: {json.dumps(since)} to: {json.dumps(until)}}}"
            ' fields: {must: [{field: status query: "Failed"}]}'
            f" }}) {{ count total offset scrollid transactions {{ {FIELDS} }} }} }}")


def failed(ot: OpenText, since: str, until: str, count: int = PAGE) -> Iterator[list[Transaction]]:
    """Failed transactions that arrived from `since` to `until`, a page at a time, oldest first."""
    scrollid: str | None = None
    for _ in range(100_000):  # a scroll that never ends is a broken server, not a busy company
        answer = ot.post_json(API, PATH, {"query": query(since, until, scrollid, count)})
        result = _result(answer)
        items = result.get("transactions") or []
        page = [t for t in map(_transaction, items if isinstance(items, list) else []) if t is not None]
        if page:
            yield page
        scrollid = result.get("scrollid")
        if len(items) < count or not scrollid:
            return


def _result(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise OpenTextError(f"{API} POST {PATH}: the answer is not a GraphQL result")
    if answer.get("errors"):
        messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in answer["errors"])
        raise OpenTextError(f"{API} POST {PATH}: {messages[:300]}")
    result = (answer.get("data") or {}).get("getTransactions")
    if not isinstance(result, dict):
        raise OpenTextError(f"{API} POST {PATH}: no getTransactions in the answer")
    return result


def _transaction(raw: Any) -> Transaction | None:
    if not isinstance(raw, dict) or not raw.get("transactionid"):
        return None
    keys = {}
    for pair in raw.get("contentkeys") or []:
        if isinstance(pair, dict) and pair.get("key") and pair.get("value"):
            keys[str(pair["key"]).lower()] = str(pair["value"])

    def text(name: str) -> str:
        value = raw.get(name)
        return str(value).strip() if value is not None else ""

    return Transaction(
        id=text("transactionid"), arrival=text("arrivaltime"), status=text("status"), editype=text("editype"),
        sender=tuple(v for v in (text("sendername"), text("senderaddress")) if v),
        receiver=tuple(v for v in (text("receivername"), text("receiveraddress")) if v),
        error_code=text("errorcode"), error_message=text("externalerrormessage"), content_keys=keys)
