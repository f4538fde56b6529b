"""A loopback OpenText: the token endpoint, Community Management's partner directory and users,
and Lens's transaction search, shaped as OpenText's Postman collections and contract section 8
describe. `tgwa demo` runs one (a failed ASN in Lens becomes a WhatsApp alert); the tests run
their own and make it fail, slow down or revoke its tokens.

Lens reads the query the way tgwa writes it (status, arrival range, count, scroll id): it is a
fake of the answers, not a GraphQL engine."""
from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import logging
import os
import re
import secrets
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

PAGE = 2  # records a Community Management page holds: small, so that paging is always exercised


@dataclasses.dataclass
class FakeOpenText:
    client_id: str = "demo-consumer-key"
    client_secret: str = "demo-consumer-secret"
    company_id: str = "GC00804444LX"
    token_seconds: int = 36_000  # about ten hours, as OpenText's
    partners: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    users: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    transactions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    failures: list[int] = dataclasses.field(default_factory=list)  # statuses the next calls answer
    delay: float = 0.0
    expire_after: int | None = None  # authorised calls after which every token runs out (once): mid-run
    tokens: dict[str, float] = dataclasses.field(default_factory=dict)  # token -> when it runs out
    calls: list[str] = dataclasses.field(default_factory=list)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    _scrolls: dict[str, tuple[str, int]] = dataclasses.field(default_factory=dict)

    def expire_tokens(self) -> None:
        """Every token handed out stops working now (as one that ran its ten hours)."""
        with self._lock:
            self.tokens = {t: 0.0 for t in self.tokens}

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self.failures.extend(statuses)

    def app(self) -> Flask:
        app = Flask("fake-opentext")

        @app.before_request
        def _gate() -> Any:
            self.calls.append(f"{request.method} {request.path}")
            if self.delay:
                time.sleep(self.delay)
            with self._lock:
                status = self.failures.pop(0) if self.failures else None
            if status is not None:
                return Response(json.dumps({"message": "injected"}), status, {"Retry-After": "0"},
                                mimetype="application/json")
            if request.path != "/v1/oauth2/tokens" and not self._authorised():
                return jsonify(message="invalid or expired token"), 401
            return None

        @app.post("/v1/oauth2/tokens")
        def token() -> Any:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if request.args.get("grant_type") != "client_credentials":
                return jsonify(error="unsupported_grant_type"), 400
            if request.headers.get("Authorization") != f"Basic {expected}":
                return jsonify(error="invalid_client"), 401
            value = secrets.token_urlsafe(16)
            with self._lock:
                self.tokens[value] = time.time() + self.token_seconds
            return jsonify(access_token=value, token_type="Bearer", expires_in=self.token_seconds)

        @app.get("/TGCommunityServices/v1/companies/<company>/partnerDirectory")
        def partner_directory(company: str) -> Any:
            return self._page(company, self.partners)

        @app.get("/TGCommunityServices/v1/companies/<company>/users")
        def users(company: str) -> Any:
            return self._page(company, self.users)

        @app.post("/visibility_transaction_search")
        def lens() -> Any:
            query = str((request.get_json(silent=True) or {}).get("query") or "")
            return jsonify(data={"getTransactions": self._search(query)})

        return app

    def _authorised(self) -> bool:
        header = request.headers.get("Authorization", "")
        with self._lock:
            if self.expire_after is not None:
                if self.expire_after <= 0:
                    self.tokens = {t: 0.0 for t in self.tokens}
                    self.expire_after = None
                else:
                    self.expire_after -= 1
            return header.startswith("Bearer ") and self.tokens.get(header[7:], 0.0) > time.time()

    def _page(self, company: str, records: list[dict[str, Any]]) -> Any:
        if company != self.company_id:
            return jsonify(message=f"company {company} not found"), 404
        start = int(request.args.get("offset", "0"))
        answer = jsonify(records[start:start + PAGE])
        if start + PAGE < len(records):
            answer.headers["Link"] = f'<{request.base_url}?offset={start + PAGE}>; rel="next"'
        return answer

    def _search(self, query: str) -> dict[str, Any]:
        def value(name: str) -> str | None:
            found = re.search(rf'\b{name}:\s*"((?:[^"\\]|\\.)*)"', query)
            return json.loads(f'"{found.group(1)}"') if found else None

        count = int(re.search(r"\bcount:\s*(\d+)", query).group(1)) if re.search(r"\bcount:\s*(\d+)", query) else 10
        scrollid = value("scrollid")
        with self._lock:
            if scrollid and scrollid in self._scrolls:
                key, offset = self._scrolls[scrollid]
            else:
                key, offset = f"{value('from')}|{value('to')}|{'Failed' if 'Failed' in query else ''}", 0
            since, until, status = key.split("|")
            matching = sorted((t for t in self.transactions
                               if (not status or t.get("status") == status)
                               and (not since or t["arrivaltime"] >= since) and (not until or t["arrivaltime"] <= until)),
                              key=lambda t: t["arrivaltime"])
            page = matching[offset:offset + count]
            next_id = f"scroll-{next(_SCROLL_IDS)}"
            self._scrolls[next_id] = (key, offset + len(page))
        return {"count": len(page), "total": len(matching), "offset": offset, "scrollid": next_id,
                "transactions": page}


_SCROLL_IDS = itertools.count(1)


def demo_fake() -> FakeOpenText:
    """The demo's OpenText: the demo partners' trading addresses, two staff users (one without a
    mobile), and a failed ASN from Acme that arrived a minute ago."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    return FakeOpenText(
        partners=[{"companyId": "GC00804444LX", "partnerCompanyId": "GC041543822654",
                   "partnerCompanyName": "Acme Logistics GmbH", "tradingAddresses": ["ZZ:ACMELOGISTICS"]},
                  {"companyId": "GC00804444LX", "partnerCompanyId": "GC041543822655",
                   "partnerCompanyName": "Globex Freight Inc.", "tradingAddresses": ["ZZ:GLOBEXFREIGHT"]}],
        users=[{"userId": "GCP6U3F660I61", "loginId": "u.smith", "firstName": "Una", "lastName": "Smith",
                "contactInformation": {"email": "una.smith@example.com", "mobile": "+44 7700 900123"},
                "preferredLanguage": "en_GB", "preferredTimezone": "Europe/London"},
               {"userId": "GCP6U3F660I62", "loginId": "audit.bot", "firstName": "Audit", "lastName": "Bot",
                "contactInformation": {"email": "audit@example.com"}}],
        transactions=[{"transactionid": "TX-DEMO-ASN-1", "correlationid": "C-1", "arrivaltime": now,
                       "status": "Failed", "editype": "856", "transactionlevel": "DOCUMENT",
                       "sendername": "ACME LOGISTICS", "senderaddress": "ZZ:ACMELOGISTICS",
                       "receivername": "DEMO RETAILER", "receiveraddress": "ZZ:DEMORETAILER",
                       "errorcode": "E-17", "externalerrormessage": "ASN references unknown PO line 3",
                       "contentkeys": [{"key": "purchase order number", "value": "PO-779001"},
                                       {"key": "shipment identification", "value": "SH-20931"}]}])


def main() -> None:
    """`python -m app.demo.opentext`: the demo's OpenText on a free loopback port. Prints its URL
    as its first line, then serves until the process that started it (`tgwa demo`, which becomes
    gunicorn) is gone."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parent = os.getppid()
    server = make_server("127.0.0.1", 0, demo_fake().app(), threaded=True)
    print(f"http://127.0.0.1:{server.server_port}", flush=True)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        server.shutdown()

    threading.Thread(target=watch, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
