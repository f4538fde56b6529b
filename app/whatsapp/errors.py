"""Graph API errors as types, by Meta's error code, so callers decide by kind, not by number."""
from __future__ import annotations

from typing import Any


class GraphError(Exception):
    """A send Meta refused or that could not reach Meta. `retryable`: trying later may work."""

    retryable = False

    def __init__(self, message: str, code: int | None = None, http_status: int | None = None,
                 details: str | None = None):
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.message, self.code, self.http_status, self.details = message, code, http_status, details


class Unreachable(GraphError):
    """Timeout, refused connection or 5xx: Meta did not take the message."""

    retryable = True


class RateLimited(GraphError):
    """130429 (throughput), 4 / 80007 (app or account rate limit): back off, then retry."""

    retryable = True


class PairRateLimited(GraphError):
    """131056: too many messages to this one recipient in a short time: space them out."""

    retryable = True


class WindowClosed(GraphError):
    """131047: more than 24 hours since the person last wrote; only a template may be sent."""


class Undeliverable(GraphError):
    """131026: the number cannot receive this message (not on WhatsApp, old app, blocked)."""


class TemplateParamsMismatch(GraphError):
    """132000: the parameters do not match what the approved template expects."""


class TemplateNotFound(GraphError):
    """132001: no approved template of that name in that language."""


class AccessTokenInvalid(GraphError):
    """190: WHATSAPP_ACCESS_TOKEN expired or was revoked."""


class SpamRateLimited(GraphError):
    """131048: Meta limits this number for quality reasons; retry much later."""

    retryable = True


BY_CODE: dict[int, type[GraphError]] = {
    4: RateLimited, 80007: RateLimited, 130429: RateLimited, 131056: PairRateLimited,
    131047: WindowClosed, 131026: Undeliverable, 132000: TemplateParamsMismatch,
    132001: TemplateNotFound, 190: AccessTokenInvalid, 131048: SpamRateLimited,
}


def from_response(http_status: int, body: Any) -> GraphError:
    """The typed error for a Graph API error answer (`{"error": {"code", "message", ...}}`)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        kind = Unreachable if http_status >= 500 else GraphError
        return kind(f"Graph API answered {http_status}", http_status=http_status)
    code = error.get("code")
    code = code if isinstance(code, int) else None
    details = error.get("error_data", {}).get("details") if isinstance(error.get("error_data"), dict) else None
    kind = BY_CODE.get(code or 0) or (Unreachable if http_status >= 500 else GraphError)
    return kind(str(error.get("message") or "error"), code=code, http_status=http_status, details=details)
