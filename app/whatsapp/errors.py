"""Graph API errors as types, by Meta's error code, so callers decide by kind, not by number;
and what each code leads to (WHAT_TO_DO), whether Meta says it in a send's answer or later, in a
`failed` status."""
from __future__ import annotations

import enum
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
    """131026, 131021: the person cannot receive this message (not on WhatsApp, an old app,
    blocked, or the recipient is the sender)."""


class UserLimited(GraphError):
    """131049, 130472: Meta holds back business messages to this person for now (its per-user
    marketing limit, an experiment): only trying hours later may work."""


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
    131047: WindowClosed, 131026: Undeliverable, 131021: Undeliverable, 132000: TemplateParamsMismatch,
    132001: TemplateNotFound, 190: AccessTokenInvalid, 131048: SpamRateLimited,
    131049: UserLimited, 130472: UserLimited, 131000: Unreachable, 131016: Unreachable,
}


class Action(enum.Enum):
    """What a refused or failed send leads to."""

    RESEND_AS_TEMPLATE = "resent as its template, once"
    TELL_OWNER = "the case's owner is told the person cannot be reached"
    RETRY_HOURS_LATER = "tried again hours later"
    PACE = "spaced out and tried again"
    RETRY = "tried again with backoff"
    PARK = "parked with Meta's reason"


# One table for the send's answer and for a later `failed` status alike.
WHAT_TO_DO: dict[int, Action] = {
    131047: Action.RESEND_AS_TEMPLATE,  # the 24-hour window closed: only a template may go
    131026: Action.TELL_OWNER, 131021: Action.TELL_OWNER,  # cannot receive: a person must reach them
    131049: Action.RETRY_HOURS_LATER, 130472: Action.RETRY_HOURS_LATER,  # Meta's per-user limits
    131048: Action.RETRY_HOURS_LATER,  # the number's quality limit
    131056: Action.PACE,  # the pair rate: this one recipient, too fast
    130429: Action.RETRY, 4: Action.RETRY, 80007: Action.RETRY,  # throughput and rate limits
    131000: Action.RETRY, 131016: Action.RETRY,  # something went wrong on Meta's side
}


def action(code: int | None) -> Action:
    """What to do about a send Meta refused or failed with `code`: anything unknown is parked."""
    return WHAT_TO_DO.get(code if code is not None else -1, Action.PARK)


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
