"""What the bot needs from Trading Grid, whichever adapter provides it.

Every write takes an `idempotency_key` that is the same for every retry of one logical write, so
a write that is retried after a timeout lands once. Errors say whether to retry.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Protocol

Record = dict[str, Any]

ISSUE_TYPES = ("shipment_delay", "invoice_mismatch", "order_exception", "other")
REFERENCE_KINDS = ("po", "invoice", "asn", "shipment", "container", "awb", "sscc", "other")
ACK_SUBJECTS = ("case", "schedule", "alert", "assignment", "onboarding", "document")
ACK_RESPONSES = ("accepted", "rejected", "acknowledged", "received", "done")
AUTHOR_KINDS = ("partner_contact", "staff")
CASE_FIELDS = ("id", "partner_id", "status", "issue_type", "reference", "summary", "assignee_id",
               "expected_date", "thread_url", "updated_at")
CASE_FILTERS = ("partner_id", "assignee_id", "status", "reference")


class TradingGridError(Exception):
    """A call to Trading Grid did not succeed; `reason` is safe to show an operator."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class TransientError(TradingGridError):
    """408, 429, 5xx, 401/409, timeouts, refused connections: retry with backoff until it lands."""


class PermanentError(TradingGridError):
    """Any other 4xx: retrying cannot help; the write is parked for a person."""


@dataclasses.dataclass(frozen=True)
class Upload:
    """A file's bytes on disk, to send as the multipart `file` part (read as it goes)."""

    filename: str
    content_type: str
    path: Path
    size: int


class TradingGrid(Protocol):
    def ping(self) -> None:
        """Returns when Trading Grid answers; raises TradingGridError otherwise."""

    def get_case(self, case_id: str) -> Record | None: ...

    def list_cases(self, **filters: str) -> list[Record]: ...

    def create_case(self, body: Record, *, idempotency_key: str) -> Record: ...

    def update_case(self, case_id: str, changes: Record, *, idempotency_key: str) -> Record: ...

    def add_reference(self, case_id: str, body: Record, *, idempotency_key: str) -> Record: ...

    def add_comment(self, case_id: str, body: Record, *, idempotency_key: str) -> Record: ...

    def create_task(self, body: Record, *, idempotency_key: str) -> Record: ...

    def create_acknowledgment(self, body: Record, *, idempotency_key: str) -> Record: ...

    def add_attachment(self, case_id: str, metadata: Record, upload: Upload, *, idempotency_key: str) -> Record: ...

    def create_document(self, metadata: Record, upload: Upload, *, idempotency_key: str) -> Record: ...
