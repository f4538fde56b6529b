"""The demo's seeded Trading Grid: cases of every issue type, dated from the day they are written."""
from __future__ import annotations

import datetime as dt

from app.demo.seed import CASES, seed


def test_the_demo_cases_are_dated_from_today_and_written_once(grid) -> None:  # type: ignore[no-untyped-def]
    assert seed(grid, today=dt.date(2027, 1, 10)) == len(CASES)
    assert seed(grid, today=dt.date(2027, 2, 1)) == len(CASES), "a second start adds nothing"
    dates = {c["reference"]: c["expected_date"] for c in grid.list_cases()}
    assert dates["PO-778812"] == "2027-01-13" and dates["ASN-88120"] == "2027-01-19"
    assert {c["issue_type"] for c in grid.list_cases()} == {"shipment_delay", "invoice_mismatch", "order_exception",
                                                           "other"}
