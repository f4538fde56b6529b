"""OAuth2 client-credentials tokens as OpenText's API gateway hands them out: client id and secret
as HTTP Basic, `grant_type=client_credentials`, a token that lasts its `expires_in` (about ten
hours at OpenText), renewed a little before it runs out and whenever a call says 401. One token
per process, shared by its threads; the secret and the token never appear in an error."""
from __future__ import annotations

import threading
import time

import requests

TIMEOUT = (3.05, 10)  # connect, read (seconds)
MARGIN_SECONDS = 300  # renewed this long before it would run out (clocks drift, calls take time)


class TokenError(Exception):
    """No token; `transient` says whether asking again later can help (429, 5xx, no answer)."""

    def __init__(self, reason: str, status: int | None, transient: bool):
        super().__init__(reason)
        self.reason, self.status, self.transient = reason, status, transient


class ClientCredentials:
    def __init__(self, session: requests.Session, token_url: str, client_id: str, client_secret: str,
                 timeout: tuple[float, float] = TIMEOUT):
        self._session, self._url, self._auth, self._timeout = session, token_url, (client_id, client_secret), timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.fetched = 0  # tokens taken so far (what /ops and the tests look at)

    def token(self, renew: bool = False) -> str:
        with self._lock:
            if renew or self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        try:
            answer = self._session.post(self._url, data={"grant_type": "client_credentials"}, auth=self._auth,
                                        params=None if "grant_type=" in self._url else {"grant_type": "client_credentials"},
                                        timeout=self._timeout)
        except requests.RequestException as exc:
            raise TokenError(f"token endpoint unreachable: {type(exc).__name__}", None, True) from None
        if answer.status_code != 200:
            status = answer.status_code
            raise TokenError(f"token endpoint answered {status}", status, status >= 500 or status == 429)
        try:
            data = answer.json()
            self._token = str(data["access_token"])
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise TokenError("token endpoint answered without an access_token", answer.status_code, True) from None
        self.fetched += 1
        self._expires_at = time.monotonic() + max(lifetime - min(MARGIN_SECONDS, lifetime / 10), 1)
