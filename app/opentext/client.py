"""One client for OpenText's API gateway: a token from `POST /v1/oauth2/tokens` (app.oauth), a
kept-alive session, timeouts, and retries with backoff.

Built on requests (already what tgwa calls Trading Grid and Meta with) rather than a GraphQL client
such as gql: Lens is one query posted as JSON to one endpoint, and gql would bring a transport
layer, a schema parser and their dependencies to send it. What it must get right is the HTTP:

- 429, 5xx, timeouts and refused connections are tried again, `MAX_TRIES` in all, after the
  answer's `Retry-After` (capped) or a backoff that doubles, with jitter;
- a 401 renews the token once, and the call is made again;
- every error names the call that failed and why ("Lens POST /visibility_transaction_search:
  503 Service Unavailable, 4 tries"); the secret and the token never appear in one.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import requests

from app import httpsession
from app.oauth import ClientCredentials, TokenError
from app.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT = (3.05, 20)  # connect, read: a Lens search over a month of traffic takes a while
MAX_TRIES = 4
BACKOFF_SECONDS = 0.5
MAX_WAIT_SECONDS = 30.0
TOKEN_PATH = "/v1/oauth2/tokens?grant_type=client_credentials"
RETRIED = frozenset({408, 429, 500, 502, 503, 504})


class OpenTextError(Exception):
    """A call to OpenText did not succeed; the message is safe to print and log."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class OpenText:
    def __init__(self, base_url: str, client_id: str, client_secret: str, company_id: str, *,
                 session: requests.Session | None = None, timeout: tuple[float, float] = TIMEOUT,
                 backoff: float = BACKOFF_SECONDS, sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.company_id = company_id
        self._session = session or httpsession.for_host(self.base_url)
        self._timeout, self._backoff, self._sleep = timeout, backoff, sleep
        self.credentials = ClientCredentials(self._session, self.base_url + TOKEN_PATH, client_id, client_secret,
                                             timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenText:
        assert settings.opentext_api_url, "OPENTEXT_API_URL is not set"
        return cls(settings.opentext_api_url, settings.opentext_client_id, settings.opentext_client_secret,
                   settings.opentext_company_id)

    def get(self, api: str, path: str, params: dict[str, str] | None = None) -> requests.Response:
        """GET `path` (or a full URL the answer gave, such as its next page)."""
        return self.call(api, "GET", path, params=params)

    def post_json(self, api: str, path: str, body: dict[str, Any]) -> Any:
        return _json(api, "POST", path, self.call(api, "POST", path, json=body))

    def call(self, api: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        shown = f"{api} {method} {_path_of(url, self.base_url)}"
        renew, renewed = False, False
        for attempt in range(1, MAX_TRIES + 1):
            try:
                token = self.credentials.token(renew=renew)
            except TokenError as exc:
                if not exc.transient or attempt == MAX_TRIES:
                    raise OpenTextError(f"{shown}: no token: {exc.reason}", exc.status) from None
                self._wait(attempt, None)
                continue
            try:
                answer = self._session.request(method, url, headers={"Authorization": f"Bearer {token}",
                                                                     "Accept": "application/json"},
                                               timeout=self._timeout, **kwargs)
            except requests.RequestException as exc:
                if attempt == MAX_TRIES:
                    raise OpenTextError(f"{shown}: {type(exc).__name__}, {attempt} tries") from None
                self._wait(attempt, None)
                continue
            renew = False
            if answer.status_code == 401 and not renewed:
                renew = renewed = True  # the token ran out early, or was revoked: one new one, then as it comes
                continue
            if answer.status_code in RETRIED and attempt < MAX_TRIES:
                log.info("%s answered %s; trying again", shown, answer.status_code)
                self._wait(attempt, answer.headers.get("Retry-After"))
                continue
            if answer.status_code >= 400:
                raise OpenTextError(f"{shown}: {answer.status_code} {answer.reason or ''}".rstrip()
                                    + (f", {attempt} tries" if attempt > 1 else "") + _detail(answer),
                                    answer.status_code)
            return answer
        raise OpenTextError(f"{shown}: no answer after {MAX_TRIES} tries")

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        try:
            seconds = float(retry_after) if retry_after is not None else None
        except ValueError:
            seconds = None
        if seconds is None:
            seconds = self._backoff * 2 ** (attempt - 1) * (0.5 + random.random())
        self._sleep(min(max(seconds, 0.0), MAX_WAIT_SECONDS))


def _json(api: str, method: str, path: str, answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        raise OpenTextError(f"{api} {method} {path}: {answer.status_code} with a body that is not JSON") from None


def _path_of(url: str, base: str) -> str:
    return url[len(base):] if url.startswith(base) else url.split("?", 1)[0]


def _detail(answer: requests.Response) -> str:
    try:
        data = answer.json()
    except ValueError:
        return f": {answer.text[:200]}" if answer.text else ""
    message = data.get("message") or data.get("error_description") or data.get("error") if isinstance(data, dict) else None
    return f": {str(message)[:200]}" if message else ""
