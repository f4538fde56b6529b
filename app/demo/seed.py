"""Open cases of every issue type for the demo partners, written once per data directory, their
dates counted from the day they are written (a fixed date would one day be exactly the date a
person types, and their change would show nothing)."""
from __future__ import annotations

import datetime as dt

from app.tradinggrid.embedded import EmbeddedTradingGrid

CASES = [
    ({"partner_id": "ACME", "issue_type": "shipment_delay", "reference": "PO-778812",
      "summary": "Container held at Hamburg port, delivery at risk"}, {"assignee_id": "u.smith", "expected_in_days": 3}),
    ({"partner_id": "ACME", "issue_type": "invoice_mismatch", "reference": "INV-2024-5561",
      "summary": "Invoice total 4,210.00 EUR does not match PO 4,120.00 EUR"}, {"assignee_id": "l.moreau"}),
    ({"partner_id": "GLOBEX", "issue_type": "order_exception", "reference": "PO-4410093",
      "summary": "Line 3 quantity exceeds contract allocation"}, {"assignee_id": "r.patel"}),
    ({"partner_id": "SAKURA", "issue_type": "shipment_delay", "reference": "ASN-88120",
      "summary": "Vessel rolled over at Yokohama"}, {"assignee_id": "u.smith", "expected_in_days": 9}),
    ({"partner_id": "ANDES", "issue_type": "other", "reference": "SH-99812",
      "summary": "Temperature log missing for reefer shipment"}, {"assignee_id": "r.patel"}),
]


def seed(grid: EmbeddedTradingGrid, today: dt.date | None = None) -> int:
    """Creates the demo cases unless they exist; returns how many cases there are."""
    day = today or dt.date.today()
    for number, (body, extra) in enumerate(CASES):
        fields = {k: v for k, v in extra.items() if k != "expected_in_days"}
        if "expected_in_days" in extra:
            fields["expected_date"] = (day + dt.timedelta(days=int(extra["expected_in_days"]))).isoformat()
        grid.create_case({**body, "source": "demo"}, idempotency_key=f"demo-case-{number}", **fields)
    return len(grid.list_cases())
