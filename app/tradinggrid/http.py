"""The Trading Grid REST adapter of contract section 5: timeouts, OAuth2, Idempotency-Key.

HTTP answers become the port's errors: 408, 409, 429, 5xx, timeouts and refused connections are
`TransientError` (retry), other 4xx `PermanentError` (park). A 401 renews the token once first.
"""
from __future__ import annotations

import json as jsonlib
from typing import Any
from urllib.parse import quote

import requests
from requests_toolbelt import MultipartEncoder

from app import httpsession
from app.oauth import ClientCredentials, TokenError
from app.tradinggrid.port import CASE_FILTERS, PermanentError, Record, TransientError, Upload

TIMEOUT = (3.05, 10)  # connect, read (seconds)
TRANSIENT_STATUSES = frozenset({401, 408, 409, 429})


class HttpTradingGrid:
    def __init__(self, base_url: str, credentials: tuple[str, str, str] | None = None,
                 session: requests.Session | None = None, timeout: tuple[float, float] = TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session or httpsession.for_host(self.base_url)
        self._oauth = ClientCredentials(self._session, *credentials) if credentials else None

    def ping(self) -> None:
        self._call("GET", "/cases", params={"status": "__ping__"})

    def get_case(self, case_id: str) -> Record | None:
        try:
            return self._call("GET", f"/cases/{quote(case_id, safe='')}")
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def list_cases(self, **filters: str) -> list[Record]:
        params = {k: v for k, v in filters.items() if k in CASE_FILTERS and v}
        return list(self._call("GET", "/cases", params=params).get("items", []))

    def create_case(self, body: Record, *, idempotency_key: str) -> Record:
        return self._call("POST", "/cases", json={"source": "whatsapp", **body}, key=idempotency_key)

    def update_case(self, case_id: str, changes: Record, *, idempotency_key: str) -> Record:
        return self._call("PATCH", f"/cases/{quote(case_id, safe='')}", json=changes, key=idempotency_key)

    def add_reference(self, case_id: str, body: Record, *, idempotency_key: str) -> Record:
        return self._call("POST", f"/cases/{quote(case_id, safe='')}/references", json=body, key=idempotency_key)

    def add_comment(self, case_id: str, body: Record, *, idempotency_key: str) -> Record:
        return self._call("POST", f"/cases/{quote(case_id, safe='')}/comments",
                          json={**body, "source": "whatsapp"}, key=idempotency_key)

    def create_task(self, body: Record, *, idempotency_key: str) -> Record:
        return self._call("POST", "/tasks", json=body, key=idempotency_key)

    def create_acknowledgment(self, body: Record, *, idempotency_key: str) -> Record:
        return self._call("POST", "/acknowledgments", json=body, key=idempotency_key)

    def add_attachment(self, case_id: str, metadata: Record, upload: Upload, *, idempotency_key: str) -> Record:
        return self._call("POST", f"/cases/{quote(case_id, safe='')}/attachments", key=idempotency_key,
                          upload=(metadata, upload))

    def create_document(self, metadata: Record, upload: Upload, *, idempotency_key: str) -> Record:
        return self._call("POST", "/documents", key=idempotency_key, upload=(metadata, upload))

    def _call(self, method: str, path: str, *, params: dict[str, str] | None = None,
              json: Any = None, key: str | None = None, upload: tuple[Record, Upload] | None = None) -> Any:
        """One call; `upload` (metadata, file) goes as multipart/form-data, streamed from disk."""
        for attempt in (1, 2):
            headers = {"Accept": "application/json"}
            if key is not None:
                headers["Idempotency-Key"] = key
            if self._oauth is not None:
                headers["Authorization"] = f"Bearer {self._token(renew=attempt == 2)}"
            try:
                if upload is None:
                    answer = self._session.request(method, self.base_url + path, params=params, json=json,
                                                   headers=headers, timeout=self.timeout)
                else:
                    answer = self._send_file(method, path, headers, *upload)
            except requests.Timeout:
                raise TransientError(f"{method} {path} timed out") from None
            except requests.RequestException as exc:
                raise TransientError(f"{method} {path} failed: {type(exc).__name__}") from None
            if answer.status_code == 401 and self._oauth is not None and attempt == 1:
                continue
            return _result(method, path, answer)
        raise AssertionError("unreachable")

    def _token(self, renew: bool) -> str:
        assert self._oauth is not None
        try:
            return self._oauth.token(renew=renew)
        except TokenError as exc:
            raise (TransientError if exc.transient else PermanentError)(exc.reason, exc.status) from None

    def _send_file(self, method: str, path: str, headers: dict[str, str], metadata: Record,
                   upload: Upload) -> requests.Response:
        with upload.path.open("rb") as stream:  # read as it is sent, never whole in memory
            body = MultipartEncoder(fields={
                "metadata": (None, jsonlib.dumps(metadata), "application/json"),
                "file": (upload.filename, stream, upload.content_type)})
            return self._session.request(method, self.base_url + path, data=body, timeout=self.timeout,
                                         headers={**headers, "Content-Type": body.content_type})


def _result(method: str, path: str, answer: requests.Response) -> Any:
    status = answer.status_code
    if 200 <= status < 300:
        try:
            return answer.json() if answer.content else {}
        except ValueError:
            raise TransientError(f"{method} {path} answered {status} with a body that is not JSON", status) from None
    reason = f"{method} {path} answered {status}: {_message(answer)}"
    if status >= 500 or status in TRANSIENT_STATUSES:
        raise TransientError(reason, status, _retry_after(answer))
    raise PermanentError(reason, status)


def _message(answer: requests.Response) -> str:
    try:
        data = answer.json()
    except ValueError:
        return answer.text[:200] or answer.reason or ""
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or data)[:200]
    return str(data)[:200]


def _retry_after(answer: requests.Response) -> float | None:
    try:
        return max(float(answer.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None
