"""Reading free text, side by side in one run: tgwa's `understand`, dateparser's search_dates and
dateutil's fuzzy parse, on tgwa's partner-message corpus and on Microsoft Recognizers-Text's
English dates; then `tgwa parse --jsonl` over 10,000 messages and the import time of `intents`.

    make bench-understand        (or: .venv/bin/python -m bench.understand_bench)

Prints one table in Markdown, ready for the README. Accuracy is the share of dates read exactly
(a case whose expected date is none counts when none is read); time is the median per message.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from intents import MONTH_FIRST_COUNTRIES, understand  # noqa: E402
from intents import cli as intents_cli  # noqa: E402
from tests.corpus_reader import cases  # noqa: E402

RECOGNIZERS = ROOT / "bench" / "corpora" / "dates-recognizers-en.jsonl"
NO_DATE = {"0001-01-01", "not resolved"}
Case = tuple[str, dt.date, str | None, str | None, str | None]  # text, today, country, language, expected
Reader = Callable[[str, dt.date, str | None, str | None], str | None]


def recognizers_cases() -> list[Case]:
    out = []
    for line in RECOGNIZERS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        expected = row["expect"]["date"]
        out.append((row["text"], dt.date.fromisoformat(row["today"]), row.get("country"), "en",
                    None if expected in NO_DATE else expected))
    return out


def corpus_cases() -> list[Case]:
    return [(c.text, c.today, c.country, c.language, c.expect["date"]) for c in cases()]


def read_tgwa(text: str, today: dt.date, country: str | None, language: str | None) -> str | None:
    return understand(text, today=today, country=country, language=language).date


def read_dateparser(text: str, today: dt.date, country: str | None, language: str | None) -> str | None:
    """Told the language where it is known, which makes dateparser both faster and better."""
    from dateparser.search import search_dates
    order = "MDY" if (country or "").upper() in MONTH_FIRST_COUNTRIES else "DMY"
    settings = {"RELATIVE_BASE": dt.datetime.combine(today, dt.time()), "PREFER_DATES_FROM": "future",
                "DATE_ORDER": order}
    try:
        found = search_dates(text, languages=[language] if language else None, settings=settings)
    except Exception:  # noqa: BLE001 - a baseline that crashes reads nothing
        return None
    return found[0][1].date().isoformat() if found else None


def read_dateutil(text: str, today: dt.date, country: str | None, language: str | None) -> str | None:
    from dateutil import parser
    try:
        found = parser.parse(text, fuzzy=True, default=dt.datetime.combine(today, dt.time()),
                             dayfirst=(country or "").upper() not in MONTH_FIRST_COUNTRIES)
    except (ValueError, OverflowError, TypeError):
        return None
    return found.date().isoformat()


def measure(reader: Reader, data: list[Case], repeat: int) -> tuple[float, float]:
    """(share of dates exact, median seconds per message); each message read `repeat` times."""
    right, times = 0, []
    for text, today, country, language, expected in data:
        reader(text, today, country, language)  # warm: first-use compilation is not what is measured
        start = time.perf_counter()
        for _ in range(repeat):
            got = reader(text, today, country, language)
        times.append((time.perf_counter() - start) / repeat)
        right += got == expected
    return right / len(data), statistics.median(times)


def fields_exact() -> float:
    """Share of corpus messages whose intent, date and references are all read exactly."""
    data = cases()
    right = sum(understand(c.text, today=c.today, country=c.country, language=c.language).as_dict() == c.expect
                for c in data)
    return right / len(data)


def parse_jsonl_median(n: int = 10_000) -> tuple[float, float]:
    """Median per message inside `tgwa parse --jsonl`'s loop, and the whole command's wall time."""
    data = cases()
    lines = [json.dumps({"text": c.text, "today": c.today.isoformat(), "country": c.country,
                         "language": c.language}) for c in data]
    lines = (lines * (n // len(lines) + 1))[:n]
    today = dt.date(2026, 11, 24)
    times = []
    sink = io.StringIO()
    for line in lines:
        start = time.perf_counter()
        intents_cli.stream([line], sink, today)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "app.cli", "parse", "--jsonl"], input="\n".join(lines) + "\n",
                   capture_output=True, text=True, check=True, cwd=ROOT)
    return statistics.median(times), time.perf_counter() - start


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import intents; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 cwd=ROOT).stdout) for _ in range(5)]
    return statistics.median(runs)


def main() -> None:
    warnings.filterwarnings("ignore")
    readers: dict[str, tuple[Reader, int]] = {
        "tgwa understand": (read_tgwa, 20), "dateparser search_dates": (read_dateparser, 1),
        "dateutil parse(fuzzy=True)": (read_dateutil, 20)}
    datasets = {"partner corpus": corpus_cases(), "Recognizers-Text en": recognizers_cases()}
    print(f"Machine: {sys.platform}, Python {sys.version.split()[0]}; {len(datasets['partner corpus'])} "
          f"partner messages, {len(datasets['Recognizers-Text en'])} Recognizers-Text dates\n")
    print("| reader | partner corpus: dates exact | median per message | Recognizers-Text: dates exact "
          "| median per message | time vs tgwa |")
    print("|---|---|---|---|---|---|")
    baseline = None
    for name, (reader, repeat) in readers.items():
        results = [measure(reader, data, repeat) for data in datasets.values()]
        median = statistics.mean(r[1] for r in results)
        baseline = baseline or median
        print(f"| {name} | {results[0][0]:.1%} | {results[0][1] * 1000:.3f} ms | {results[1][0]:.1%} "
              f"| {results[1][1] * 1000:.3f} ms | {median / baseline:.1f}× |")
    per_message, wall = parse_jsonl_median()
    print(f"\ntgwa: all fields (intent, date, references) exact on the partner corpus: {fields_exact():.1%}")
    print(f"tgwa parse --jsonl, 10,000 messages: median {per_message * 1000:.3f} ms per message, "
          f"{wall:.2f} s for the whole command")
    print(f"import intents: {import_time() * 1000:.0f} ms")


if __name__ == "__main__":
    main()
