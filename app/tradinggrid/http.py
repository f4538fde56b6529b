"""The Trading Grid REST adapter of contract section 5: timeouts, OAuth2, Idempotency-Key.

HTTP answers become the port's errors: 408, 409, 429, 5xx, timeouts and refused connections are
`TransientError` (retry), other 4xx `PermanentError` (park). A 401 renews the token once first.
"""
from __future__ import annotations

import json as jsonlib
import threading
import time
from typing import Any
from urllib.parse import quote

import requests
from requests_toolbelt import MultipartEncoder

from app import httpsession
from app.tradinggrid.port import CASE_FILTERS, PermanentError, Record, TransientError, Upload

TIMEOUT = (3.05, 10)  # connect, read (seconds)
TOKEN_MARGIN_SECONDS = 30
TRANSIENT_STATUSES = frozenset({401, 408, 409, 429})


class ClientCredentials:
    """OAuth2 client-credentials tokens, client id and secret as HTTP Basic (OpenText's gateway)."""

    def __init__(self, session: requests.Session, token_url: str, client_id: str, client_secret: str):
        self._session, self._url, self._auth = session, token_url, (client_id, client_secret)
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def token(self, renew: bool = False) -> str:
        with self._lock:
            if renew or self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        try:
            answer = self._session.post(self._url, data={"grant_type": "client_credentials"},
                                        auth=self._auth, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise TransientError(f"token endpoint unreachable: {type(exc).__name__}") from None
        if answer.status_code != 200:
            error = TransientError if answer.status_code >= 500 or answer.status_code == 429 else PermanentError
            raise error(f"token endpoint answered {answer.status_code}", answer.status_code)
        try:
            data = answer.json()
            self._token = str(data["access_token"])
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise TransientError("token endpoint answered without an access_token") from None
        self._expires_at = time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, 1)


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
        return self._call("POST", "/cases", json={**body, "source": "whatsapp"}, key=idempotency_key)

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
                headers["Authorization"] = f"Bearer {self._oauth.token(renew=attempt == 2)}"
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
