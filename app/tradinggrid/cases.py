"""A Trading Grid case as the domain reads it: typed, from the record either adapter returns
(the port speaks the REST JSON; `read` and `listed` turn it into Cases once, where they are read)."""
from __future__ import annotations

import dataclasses
from typing import Any

from app.tradinggrid.port import Record, TradingGrid


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    partner_id: str = ""
    status: str = ""
    issue_type: str = "other"
    reference: str | None = None
    summary: str = ""
    assignee_id: str | None = None
    expected_date: str | None = None  # YYYY-MM-DD
    thread_url: str | None = None
    updated_at: str | None = None

    @classmethod
    def of(cls, record: Record) -> Case:
        """The case in a record; fields it lacks take their defaults (a write's answer may be short)."""
        names = {f.name for f in dataclasses.fields(cls)}
        given: dict[str, Any] = {k: v for k, v in record.items() if k in names and v is not None}
        return cls(**{**given, "id": str(record["id"])})


def read(grid: TradingGrid, case_id: str) -> Case | None:
    """The case with this id, or None when Trading Grid has none."""
    record = grid.get_case(case_id)
    return Case.of(record) if record else None


def listed(grid: TradingGrid, **filters: str) -> list[Case]:
    """The cases matching `filters` (port.CASE_FILTERS)."""
    return [Case.of(r) for r in grid.list_cases(**filters)]
