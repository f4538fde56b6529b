"""The partner-message corpus (tests/corpus/messages.txt), shared by the tests and the benchmark."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parent / "corpus" / "messages.txt"


@dataclasses.dataclass(frozen=True)
class Case:
    line: int
    text: str
    today: dt.date
    country: str | None
    language: str | None
    expect: dict[str, Any]


def cases(path: Path = CORPUS) -> list[Case]:
    out: list[Case] = []
    today = dt.date.today()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if raw.startswith("@today "):
            today = dt.date.fromisoformat(raw.split()[1])
            continue
        text, country, language, intent, date, refs = (part.strip() for part in raw.split("|"))
        references = [{"kind": r.split(":", 1)[0].strip(), "value": r.split(":", 1)[1].strip()}
                      for r in refs.split(";") if r.strip()]
        out.append(Case(number, text, today, country or None, language or None,
                        {"intent": intent, "date": date or None, "references": references}))
    return out
