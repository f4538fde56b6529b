"""Dates in free text, by the rules of contract section 7.

Every pattern is a regex built once per lexicon from its word lists; a message is scanned by each,
the candidates that fall on a reference, amount, clock time or phone number are dropped, overlaps
go to the longer match, a date the writer marks as the old one ("instead of 1/12") gives way, and
the first date left is the answer. A date that names an impossible day (31 Nov) is an explicit
"no date" rather than a guess.
"""
from __future__ import annotations

import bisect
import calendar
import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Iterable

from dateutil.easter import easter
from dateutil.relativedelta import relativedelta

from intents.lexicon import Lexicon, alternation, squash

Span = tuple[int, int]
YEARS_AHEAD = 8  # a day without a year that exists only in leap years: look this far
WEEKDAY_RANK = 5
BLOCKER_RANK = -1  # a phrase that hides a date word ("guten Morgen") and is none itself
ADJACENT = 3  # "Tue May 9", "Friday, 3/12": a weekday beside a date only names the date's day
CLAUSE_REACH = 120  # characters either side of a date that may tell of the past: a long text stays linear
OLD_REACH = 40  # characters before a date where "instead of", "planned ETA" may stand


@dataclasses.dataclass
class Candidate:
    start: int
    end: int
    date: dt.date | None
    rank: int  # which pattern found it: lower wins a tie between equally long matches
    counted: bool = False  # a count from today or from a date: "two weeks from now", "3 days after Xmas"


SPAN_WEEKDAY = {"start": 0, "mid": 2, "end": 4}  # a working week: Monday, Wednesday, Friday


@dataclasses.dataclass(frozen=True)
class Patterns:
    iso: re.Pattern[str]
    compact: re.Pattern[str]
    numeric: re.Pattern[str]
    mixed: re.Pattern[str]
    day_month: re.Pattern[str]
    month_day: re.Pattern[str]
    weekday_day: re.Pattern[str]
    relative: re.Pattern[str]
    count: re.Pattern[str]
    weekday: re.Pattern[str]
    weekdays_ahead: re.Pattern[str]
    bare_day: re.Pattern[str]
    nth_weekday: re.Pattern[str]
    before_weekday: re.Pattern[str]
    after_weekday: re.Pattern[str]
    offset_before: re.Pattern[str]
    pair: re.Pattern[str]
    holiday: re.Pattern[str]
    past: re.Pattern[str]
    span: re.Pattern[str]
    span_blocker: re.Pattern[str]
    gates: dict[str, frozenset[str]]  # first words that must be in a text for a pattern to be tried
    old_cue: re.Pattern[str]
    refusal: re.Pattern[str]


@dataclasses.dataclass(frozen=True)
class Found:
    date: str | None
    corrected: bool  # another date in the message was refused or named as the old one


NOTHING = Found(None, False)


NOT_LETTER = r"(?![^\W\d_])"
WORD = re.compile(r"[^\W\d_]+")
DIGIT = re.compile(r"\d")


def _first_word(phrase: str) -> str:
    found = WORD.search(phrase)
    return found.group(0) if found else phrase


@functools.lru_cache(maxsize=16)
def patterns(lex: Lexicon) -> Patterns:
    month = f"(?P<month>{alternation(lex.months)})\\.?{NOT_LETTER}"
    weekday = f"(?P<weekday>{alternation(lex.weekdays)})\\.?{NOT_LETTER}"
    day_word = f"(?P<dayword>{alternation(lex.day_words)}){NOT_LETTER}"
    day_num = r"(?P<day>\d{1,2})(?:st|nd|rd|th|er|e|º|ª|°|\.(?!\d))?(?!\d)"
    day = f"(?:{day_num}|{day_word})"
    of = alternation(lex.of_words | {"of", "in"})
    small = alternation({w: n for w, n in lex.numbers.items() if 1 <= n <= 99 and w not in ("a", "an", "few", "couple", "several")})
    year_words = (rf"(?P<year_words>(?:{alternation(lex.centuries)})\s+(?:hundred\s+(?:and\s+)?)?"
                  rf"(?:and\s+)?(?:(?:zero|oh)\s+)?(?:{small}){NOT_LETTER}|two\s+thousand{NOT_LETTER})")
    year = (rf"(?:\s*(?:{of})\s+(?P<year_of>\d{{4}}|\d{{2}})\b|[\s,./-]*(?P<year>\d{{4}}|'\d{{2}})(?!\d)"
            rf"|[\s,]+{year_words})")
    number_words = alternation(lex.numbers)
    number = rf"(?P<n>\d{{1,3}}|{number_words})"
    unit = f"(?P<unit>{alternation(lex.units)}){NOT_LETTER}"
    run = rf"(?P<run>(?:(?:\d{{1,3}}|{number_words})\s+(?:{alternation(lex.units)}){NOT_LETTER}(?:\s*,\s*|\s+and\s+|\s+))*)"
    articles = alternation(lex.day_articles)
    return Patterns(
        iso=re.compile(r"(?<![\d.,/])(?<!\d-)(?P<y>\d{4})(?P<s>[-/. ])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})(?![\d]|[-/.]\d)"),
        compact=re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)"),
        numeric=re.compile(r"(?<![\d.,/:-])(?P<a>\d{1,2})(?P<s>[/.-])(?P<b>\d{1,2})"
                           r"(?:(?P=s)(?P<y>\d{4}|\d{2})|,\s?(?P<y2>\d{4}|\d{2})(?!\s*[^\W\d_]))?\.?(?![\d:]|[/.-]\d|,\d)"),
        mixed=re.compile(rf"(?<![\w/-])(?P<x>\d{{1,4}}|{alternation(lex.months)})\.?[-/]"
                         rf"(?P<y>\d{{1,4}}|{alternation(lex.months)})\.?[-/]"
                         rf"(?P<z>\d{{1,4}}|{alternation(lex.months)}){NOT_LETTER}(?![-/]\w)"),
        day_month=re.compile(rf"(?<![\d.,/])(?:\b(?:{articles})\s+)?{day}(?:\s+day)?"
                             rf"(?:\s*\b(?:{of})\s+|[\s.,/-]*){month}(?:{year})?"),
        month_day=re.compile(rf"(?<![^\W\d_]){month}[\s.,/-]*(?:the\s+)?{day}(?![\d:/])"
                             rf"(?:(?:\s*,\s*|\s+)(?:of\s+)?(?P<year>(?:1[89]|2[01])\d{{2}}|'\d{{2}})(?!\d)"
                             rf"|[\s,]+{year_words})?"),
        weekday_day=re.compile(rf"(?<![^\W\d_]){weekday},?\s+(?:the\s+)?(?:{day_num}(?![\d./:-])|{day_word})"),
        relative=re.compile(rf"(?<![^\W\d_])(?P<phrase>{alternation(lex.relative_days)}){NOT_LETTER}"),
        count=re.compile(
            rf"(?<![^\W\d_])(?:(?P<pre_in>{alternation(lex.in_words)})\s+|(?P<pre_ago>{alternation(lex.prefix_ago_words)})\s+)?"
            rf"{run}(?:(?:a\s+)?{number}\s+(?:of\s+)?)?{unit}"
            rf"(?:\s+(?P<post>{alternation(set(lex.from_words) | lex.ago_words)}){NOT_LETTER}|(?P<tail>'s time))?"),
        weekday=re.compile(rf"(?<![^\W\d_]){weekday}"),
        weekdays_ahead=re.compile(rf"(?<![^\W\d_]){number}\s+(?P<weekday>{alternation(lex.weekdays)})s?\s+"
                                  rf"(?P<post>{alternation(lex.from_words)}){NOT_LETTER}"),
        bare_day=re.compile(
            rf"(?<![^\W\d_])(?:(?:{articles})\s+(?:the\s+)?(?P<day>\d{{1,2}})(?:st|nd|rd|th|er|\.)?(?![\d:/,.-]|\.\d)"
            rf"|(?:the\s+)?(?P<day2>\d{{1,2}})(?:st|nd|rd|th)(?![^\W\d_])"
            rf"|(?:for|on|by|until)\s+the\s+(?P<dayword>{alternation(lex.day_words)}){NOT_LETTER}"
            rf"|the\s+(?P<dayword2>{alternation(lex.ordinals)}){NOT_LETTER}(?=\s+day))"
            rf"(?:\s+day)?(?:\s+(?P<which>{alternation(lex.month_words)}){NOT_LETTER})?"),
        nth_weekday=re.compile(
            rf"(?<![^\W\d_])(?:the\s+)?(?P<nth>first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)\s+{weekday}"
            rf"(?:\s+(?:of|in)\s+(?:{month}|(?P<which>{alternation(lex.month_words)})))?"),
        before_weekday=re.compile(
            rf"(?:(?P<mod>{alternation(lex.modifiers)})\s+)?(?:(?P<week>{alternation(lex.week_words)})\s*(?:on\s+|-\s*|,\s*)?)?"
            rf"(?P<prep>(?<![^\W\d_])(?:{alternation(lex.day_cues)}))?\s*$"),
        after_weekday=re.compile(
            rf"^(?:\s*,?\s*(?:of\s+|on\s+)?(?P<week>{alternation(lex.week_words)})"
            rf"|\s+(?P<post>{alternation(lex.post_modifiers)})){NOT_LETTER}"),
        offset_before=re.compile(rf"{number}\s+{unit}\s+(?P<dir>{alternation(lex.offset_words)})\s+$"),
        pair=re.compile(rf"{number}\s+{unit}"),
        holiday=re.compile(rf"(?<![^\W\d_])(?:(?P<mod>next|following|last|previous|this)\s+)?(?:the\s+)?"
                           rf"(?P<holiday>{alternation(lex.holidays)}){NOT_LETTER}"
                           rf"(?:\s+(?:of\s+|in\s+)?(?:(?P<year>\d{{4}})(?!\d)|(?P<this_year>this\s+year)))?"),
        past=re.compile(rf"(?<![^\W\d_])(?:{alternation(lex.past_cues)}){NOT_LETTER}"),
        span=re.compile(
            rf"(?<![^\W\d_])(?:(?P<compound>{alternation(lex.span_compounds)})"
            rf"|(?P<part>{alternation(lex.span_parts)})(?:\s*-\s*|\s+)(?:(?:{alternation(lex.span_links)})\s+)?"
            rf"(?:(?P<pre>{alternation(lex.span_next)})\s+)?(?:(?P<period>{alternation(lex.span_periods)})"
            rf"(?:\s+(?P<post>{alternation(lex.span_next)}))?|{month}(?:\s+(?:of\s+|de\s+)?(?P<year>\d{{4}})(?!\d))?))"
            rf"{NOT_LETTER}"),
        span_blocker=re.compile(rf"(?<![^\W\d_])(?:{alternation(lex.span_blockers)}){NOT_LETTER}"),
        gates={name: frozenset(_first_word(w) for w in words) for name, words in (
            ("month", lex.months), ("weekday", set(lex.weekdays) | {f"{w}s" for w in lex.weekdays}),
            ("relative", lex.relative_days),
            ("unit", lex.units), ("holiday", lex.holidays), ("day_word", lex.day_words),
            ("span", set(lex.span_parts) | set(lex.span_compounds)))},
        old_cue=re.compile(rf"(?<![^\W\d_])(?:(?:{alternation(lex.old_cues | lex.old_adjectives)})\s*"
                           rf"|(?:{alternation(lex.old_adjectives)})\s+(?:{alternation(lex.date_labels)})\s*[:=-]?\s*)"
                           rf"(?:the\s+)?$"),
        refusal=re.compile(rf"[^,.;!?\n]{{0,24}}?(?<![^\W\d_])(?:{alternation(lex.refusal_cues)}){NOT_LETTER}"),
    )


def find(text: str, today: dt.date, month_first: bool, lex: Lexicon, masked: Iterable[Span] = ()) -> Found:
    """The date `text` (already folded) names, as YYYY-MM-DD, or None; a date the writer refuses
    ("the 7th is impossible, the 11th works") or names as the old one gives way to the other."""
    p = patterns(lex)
    candidates = [_shifted(text, c, lex, p) for c in _candidates(text, today, month_first, lex, p)
                  if not _overlaps(c, masked)]
    if not candidates:
        return NOTHING
    candidates += _weekdays_of_counts(candidates)
    absolute = [c for c in candidates if c.rank <= 3]
    candidates = [c for c in candidates if c.rank != WEEKDAY_RANK or not any(
        -ADJACENT <= a.start - c.end <= ADJACENT or -ADJACENT <= c.start - a.end <= ADJACENT for a in absolute)]
    kept: list[Candidate] = []
    taken: list[tuple[int, int]] = []  # the spans kept, in order and apart: only neighbours can overlap
    for c in sorted(candidates, key=lambda c: (-(c.end - c.start), c.rank, c.start)):
        i = bisect.bisect_left(taken, (c.start, c.end))
        if (i > 0 and taken[i - 1][1] > c.start) or (i < len(taken) and taken[i][0] < c.end):
            continue
        taken.insert(i, (c.start, c.end))
        kept.append(c)
    kept = sorted((c for c in kept if c.rank != BLOCKER_RANK), key=lambda c: c.start)
    if not kept:
        return NOTHING
    current = [c for c in kept if not p.old_cue.search(text, max(0, c.start - OLD_REACH), c.start)
               and not p.refusal.match(text, c.end)]
    chosen = (current or kept)[0]
    return Found(chosen.date.isoformat() if chosen.date else None, bool(current) and len(current) < len(kept))


def _weekdays_of_counts(candidates: list[Candidate]) -> list[Candidate]:
    """'Monday two weeks from now', 'in 3 days on Friday': the weekday in the week the count lands in."""
    out = []
    for w in (c for c in candidates if c.rank == WEEKDAY_RANK and c.date):
        for n in (c for c in candidates if c.counted and c.date):
            if 0 <= n.start - w.end <= ADJACENT + 2 or 0 <= w.start - n.end <= ADJACENT + 2:  # "... on Friday"
                monday = n.date - dt.timedelta(days=n.date.weekday())
                out.append(Candidate(min(w.start, n.start), max(w.end, n.end),
                                     monday + dt.timedelta(days=w.date.weekday()), 4))
    return out


def _overlaps(c: Candidate, spans: Iterable[Span]) -> bool:
    return any(c.start < end and start < c.end for start, end in spans)


def _candidates(text: str, today: dt.date, month_first: bool, lex: Lexicon, p: Patterns) -> Iterable[Candidate]:
    """Every date any pattern sees. A pattern is tried only when the text holds a word it needs:
    most messages hold none, and this is what keeps a message well under a millisecond."""
    words = set(WORD.findall(text))
    digits = DIGIT.search(text) is not None
    has = {name: not gate.isdisjoint(words) for name, gate in p.gates.items()}
    if digits:
        yield from _numeric_candidates(text, today, month_first, p)
    if has["month"]:
        yield from _month_candidates(text, today, lex, p, digits)
    if has["weekday"]:
        yield from _weekday_candidates(text, today, lex, p)
    if has["relative"]:
        for m in p.relative.finditer(text):
            offset = lex.relative_days[squash(m["phrase"])]
            if offset is not None:
                yield Candidate(m.start(), m.end(), today + dt.timedelta(days=offset), 4)
            else:
                yield Candidate(m.start(), m.end(), None, BLOCKER_RANK)  # "guten Morgen" is no date
    if has["unit"]:
        for m in p.count.finditer(text):
            found = _count(m, today, lex)
            if found is not None:
                yield Candidate(m.start(), m.end(), found, 4, counted=True)
    if has["holiday"]:
        for m in p.holiday.finditer(text):
            yield Candidate(m.start(), m.end(), _holiday(m, today, lex), 1)
    if has["span"]:
        for m in p.span.finditer(text):
            if not p.span_blocker.search(m.group(0)):
                found = _span(m, today, lex)
                if found is not None:
                    yield Candidate(m.start(), m.end(), found, 1)
    if digits or has["day_word"]:
        for m in p.bare_day.finditer(text):
            found = _bare_day(text, m, today, lex)
            if found is not None:
                yield found


def _numeric_candidates(text: str, today: dt.date, month_first: bool, p: Patterns) -> Iterable[Candidate]:
    for m in p.iso.finditer(text):
        yield Candidate(m.start(), m.end(), _valid(int(m["y"]), int(m["m"]), int(m["d"])), 0)
    for m in p.compact.finditer(text):
        found = _valid(int(m["y"]), int(m["m"]), int(m["d"]))
        if found:
            yield Candidate(m.start(), m.end(), found, 0)
    for m in p.numeric.finditer(text):
        yield Candidate(m.start(), m.end(), _numeric(m, today, month_first, _told_of_the_past(text, m.start(), p)), 2)


def _month_candidates(text: str, today: dt.date, lex: Lexicon, p: Patterns, digits: bool) -> Iterable[Candidate]:
    if digits:
        for m in p.mixed.finditer(text):
            found = _mixed([m["x"], m["y"], m["z"]], lex)
            if found is not False:
                yield Candidate(m.start(), m.end(), found, 1)
    for m in p.day_month.finditer(text):
        past = _told_of_the_past(text, m.start(), p)
        yield Candidate(m.start(), m.end(), _dated(_day(m, lex), lex.months[m["month"]], _year(m, lex), today, past), 1)
    for m in p.month_day.finditer(text):
        if m["month"] in lex.weak and m["day"] is None and lex.numbers.get(m["dayword"], 99) < 20:
            continue  # "we may one day": not the 1st of May
        past = _told_of_the_past(text, m.start(), p)
        yield Candidate(m.start(), m.end(), _dated(_day(m, lex), lex.months[m["month"]], _year(m, lex), today, past), 1)


def _weekday_candidates(text: str, today: dt.date, lex: Lexicon, p: Patterns) -> Iterable[Candidate]:
    for m in p.weekday_day.finditer(text):
        past = _told_of_the_past(text, m.start(), p)
        yield Candidate(m.start(), m.end(), _weekday_day(lex.weekdays[m["weekday"]], _day(m, lex), today, past), 3)
    for m in p.nth_weekday.finditer(text):
        if m["nth"] == "last" and not (m["month"] or m["which"]):
            continue  # "last Sunday" is a weekday of last week, found below
        yield Candidate(m.start(), m.end(), _nth_weekday(m, today, lex), 3)
    for m in p.weekday.finditer(text):
        found = _weekday(text, m, today, lex, p)
        if found is not None:
            yield found
    for m in p.weekdays_ahead.finditer(text):  # "two Sundays from now": the second Sunday after today
        base = today + dt.timedelta(days=lex.from_words[squash(m["post"])])
        first = base + dt.timedelta(days=(lex.weekdays[m["weekday"]] - base.weekday() - 1) % 7 + 1)
        yield Candidate(m.start(), m.end(), first + dt.timedelta(weeks=_number(m["n"], lex) - 1), 3)


def _span(m: re.Match[str], today: dt.date, lex: Lexicon) -> dt.date | None:
    """'end of next week' (its Friday), 'mid-January' (the 15th), 'Monatsende', 'fin du mois':
    the day that stands for part of a period, in the next such period when this one's has passed."""
    if m["compound"]:
        part, period = lex.span_compounds[squash(m["compound"])].split()
    else:
        part, period = lex.span_parts[squash(m["part"])], lex.span_periods.get(squash(m["period"] or ""), "")
    ahead = 1 if m["pre"] or m["post"] else 0
    if m["month"]:
        month = lex.months[m["month"]]
        year = int(m["year"]) if m["year"] else today.year
        found = _part_of_month(dt.date(year, month, 1), part)
        return found if m["year"] or found >= today else _part_of_month(dt.date(year + 1, month, 1), part)
    if period == "week":
        monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=ahead)
        found = monday + dt.timedelta(days=SPAN_WEEKDAY[part])
        return found if ahead or found >= today else found + dt.timedelta(weeks=1)
    if period == "month":
        first = today.replace(day=1) + relativedelta(months=ahead)
        found = _part_of_month(first, part)
        return found if ahead or found >= today else _part_of_month(first + relativedelta(months=1), part)
    if period == "year" and part != "mid":
        found = dt.date(today.year + ahead, 1, 1) if part == "start" else dt.date(today.year + ahead, 12, 31)
        return found if ahead or found >= today else found.replace(year=found.year + 1)
    return None


def _part_of_month(first: dt.date, part: str) -> dt.date:
    day = {"start": 1, "mid": 15, "end": calendar.monthrange(first.year, first.month)[1]}[part]
    return first.replace(day=day)


def _valid(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _full_year(raw: str) -> int:
    digits = raw.lstrip("'")
    year = int(digits)
    return year if len(digits) == 4 else (2000 + year if year < 40 else 1900 + year)


def _year(m: re.Match[str], lex: Lexicon) -> int | None:
    groups = m.groupdict()
    raw = groups.get("year") or groups.get("year_of")
    if raw:
        return _full_year(raw)
    if groups.get("year_words"):
        return _year_in_words(groups["year_words"], lex)
    return None


def _year_in_words(words: str, lex: Lexicon) -> int:
    """'nineteen seventy eight', 'two thousand and eighteen', 'nineteen hundred ninety three'."""
    text = squash(words)
    century = next(c for c in sorted(lex.centuries, key=len, reverse=True) if text.startswith(c))
    rest = re.sub(r"^(?:hundred )?(?:and )?(?:zero |oh )?", "", text[len(century):].strip())
    return lex.centuries[century] + (lex.numbers.get(rest, 0) if rest else 0)


def _day(m: re.Match[str], lex: Lexicon) -> int:
    return int(m["day"]) if m["day"] else lex.day_words[squash(m["dayword"])]


def _dated(day: int, month: int, year: int | None, today: dt.date, past: bool = False) -> dt.date | None:
    """A day and month, in `year`, or else their next occurrence on or after today; told of the
    past ("delivered 5/12"), their latest occurrence up to today."""
    if year is not None:
        return _valid(year, month, day)
    for ahead in range(YEARS_AHEAD + 1):
        found = _valid(today.year + (-ahead if past else ahead), month, day)
        if found is not None and (found <= today if past else found >= today):
            return found
    return None


def _numeric(m: re.Match[str], today: dt.date, month_first: bool, past: bool) -> dt.date | None:
    a, b = int(m["a"]), int(m["b"])
    raw_year = m["y"] or m["y2"]
    year = _full_year(raw_year) if raw_year else None
    first, second = ((b, a), (a, b)) if month_first else ((a, b), (b, a))  # (day, month) readings
    for day, month in (first, second):
        if 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
            return _dated(day, month, year, today, past)
    return None


def _mixed(parts: list[str], lex: Lexicon) -> dt.date | None | bool:
    """'2019-sep-1', '23/Sep/2020', 'September-2020-23': one month name, one year, one day."""
    months = [p for p in parts if p in lex.months]
    years = [p for p in parts if p.isdigit() and len(p) == 4]
    days = [p for p in parts if p.isdigit() and len(p) <= 2]
    if len(months) != 1 or len(years) != 1 or len(days) != 1:
        return False
    return _valid(int(years[0]), lex.months[months[0]], int(days[0]))


def _weekday_day(weekday: int, day: int, today: dt.date, past: bool) -> dt.date | None:
    """'Mon 13th': the first month from this one whose 13th, on or after today, is a Monday; told
    of the past ("we received it Friday the 22nd"), the latest such day up to today."""
    first = today.replace(day=1)
    for ahead in range(0, 29):
        month = first + relativedelta(months=-ahead if past else ahead)
        found = _valid(month.year, month.month, day)
        if found is not None and found.weekday() == weekday and (found <= today if past else found >= today):
            return found
    return None


def _holiday_in(year: int, rule: str) -> dt.date:
    if rule.startswith("easter"):
        return easter(year) + dt.timedelta(days=int(rule[6:] or 0))
    if rule in ("thanksgiving", "black_friday"):
        november = dt.date(year, 11, 1)
        thursday = november + dt.timedelta(days=(3 - november.weekday()) % 7 + 21)
        return thursday + dt.timedelta(days=1 if rule == "black_friday" else 0)
    month, day = rule.split("-")
    return dt.date(year, int(month), int(day))


def _holiday(m: re.Match[str], today: dt.date, lex: Lexicon) -> dt.date:
    """Christmas, Easter, new year... in the year given, else the next one on or after today
    ('last Easter': the latest before today; 'next Easter': the first after today)."""
    rule = lex.holidays[squash(m["holiday"])]
    if m["year"] or m["this_year"]:
        return _holiday_in(int(m["year"]) if m["year"] else today.year, rule)
    if m["mod"] in ("last", "previous"):
        this_year = _holiday_in(today.year, rule)
        return this_year if this_year < today else _holiday_in(today.year - 1, rule)
    this_year = _holiday_in(today.year, rule)
    if m["mod"] in ("next", "following"):
        return this_year if this_year > today else _holiday_in(today.year + 1, rule)
    return this_year if this_year >= today else _holiday_in(today.year + 1, rule)


def _count(m: re.Match[str], today: dt.date, lex: Lexicon) -> dt.date | None:
    unit = lex.units[squash(m["unit"])]
    post = m["post"]
    raw_n = m["n"]
    if raw_n is None:
        if unit != "fortnight" or not (m["pre_in"] or post or m["tail"]):
            return None
        n = 1
    else:
        n = _number(raw_n, lex)
        if not (m["pre_in"] or m["pre_ago"] or post):
            return None
    sign, base = 1, today
    if m["pre_ago"] or (post in lex.ago_words):
        sign = -1
    elif post in lex.from_words:
        base = today + dt.timedelta(days=lex.from_words[post])
    for pair in patterns(lex).pair.finditer(m["run"] or ""):
        base = _shift(base, lex.units[squash(pair["unit"])], sign * _number(pair["n"], lex))
    return _shift(base, unit, sign * n)


def _number(raw: str, lex: Lexicon) -> int:
    return int(raw) if raw.isdigit() else lex.numbers[squash(raw)]


def _shift(base: dt.date, unit: str, n: int) -> dt.date:
    if unit == "day":
        return base + dt.timedelta(days=n)
    if unit == "week":
        return base + dt.timedelta(weeks=n)
    if unit == "fortnight":
        return base + dt.timedelta(weeks=2 * n)
    if unit == "month":
        return base + relativedelta(months=n)
    if unit == "year":
        return base + relativedelta(years=n)
    step = 1 if n >= 0 else -1  # business days: Monday to Friday
    for _ in range(abs(n)):
        base += dt.timedelta(days=step)
        while base.weekday() >= 5:
            base += dt.timedelta(days=step)
    return base


def _weekday(text: str, m: re.Match[str], today: dt.date, lex: Lexicon, p: Patterns) -> Candidate | None:
    weekday = lex.weekdays[m["weekday"]]
    before = p.before_weekday.search(text, max(0, m.start() - 40), m.start())
    after = p.after_weekday.match(text[m.end():m.end() + 40])
    mod = lex.modifiers.get(squash(before["mod"])) if before and before["mod"] else None
    week = None
    start, end = m.start(), m.end()
    if before and before["week"]:
        week = lex.week_words[squash(before["week"])]
    if before and (before["mod"] or before["week"]):
        start = before.start()
    if after:
        end += after.end()
        if after["week"]:
            week = lex.week_words[squash(after["week"])]
        else:
            mod = lex.post_modifiers[squash(after["post"])]
    if m["weekday"] in lex.weak and not (mod or week or (before and before["prep"])):
        return None
    monday = today - dt.timedelta(days=today.weekday())
    if week is not None:
        shift = {"next": 7, "this": 0, "last": -7}[week]
        found = monday + dt.timedelta(days=shift + weekday)
    elif mod == "next":
        found = monday + dt.timedelta(days=7 + weekday)
    elif mod == "last" and before and re.search(r"past\s*$", before["mod"] or ""):
        found = today - dt.timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
    elif mod == "last":
        found = monday + dt.timedelta(days=weekday - 7)
    elif mod is None and _told_of_the_past(text, m.start(), p):
        found = today - dt.timedelta(days=(today.weekday() - weekday) % 7)  # "received on Monday"
    else:
        found = today + dt.timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    return Candidate(start, end, found, WEEKDAY_RANK)


def _told_of_the_past(text: str, at: int, p: Patterns) -> bool:
    """Whether the clause around `at` (at most CLAUSE_REACH either side) tells of something done
    ("we received it on Monday")."""
    low, high = max(0, at - CLAUSE_REACH), min(len(text), at + CLAUSE_REACH)
    start = max(text.rfind(c, low, at) for c in ",.;!?\n") + 1 or low
    ends = [i for i in (text.find(c, at, high) for c in ",.;!?\n") if i >= 0]
    return p.past.search(text, max(start, low), min(ends) if ends else high) is not None


def _shifted(text: str, c: Candidate, lex: Lexicon, p: Patterns) -> Candidate:
    """'3 days after Tuesday', 'two weeks from tomorrow': an offset written before a date."""
    m = p.offset_before.search(text, max(0, c.start - 40), c.start)
    if m is None or c.date is None:
        return c
    n = _number(m["n"], lex)
    direction = lex.offset_words[squash(m["dir"])]
    unit = lex.units[squash(m["unit"])]
    return Candidate(m.start(), c.end, _shift(c.date, unit, direction * n), c.rank, counted=True)


def _nth_weekday(m: re.Match[str], today: dt.date, lex: Lexicon) -> dt.date | None:
    nth = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
           "fifth": 5, "5th": 5, "last": -1}[m["nth"]]
    weekday = lex.weekdays[m["weekday"]]
    if m["month"]:
        month = lex.months[m["month"]]
        year = today.year if month >= today.month else today.year + 1
    else:
        shift = {"next": 1, "this": 0, "last": -1}[lex.month_words[squash(m["which"])]] if m["which"] else 0
        anchor = today + relativedelta(months=shift)
        year, month = anchor.year, anchor.month
    days = [d for d in range(1, calendar.monthrange(year, month)[1] + 1)
            if dt.date(year, month, d).weekday() == weekday]
    if nth == -1:
        return dt.date(year, month, days[-1])
    return dt.date(year, month, days[nth - 1]) if nth <= len(days) else None


def _bare_day(text: str, m: re.Match[str], today: dt.date, lex: Lexicon) -> Candidate | None:
    raw = m["day"] or m["day2"]
    if raw:
        day = int(raw)
    else:
        word = m["dayword"] or m["dayword2"]
        day = lex.day_words.get(squash(word), lex.ordinals.get(word, 0))
    if not 1 <= day <= 31:
        return None
    if m["which"]:
        shift = {"next": 1, "this": 0, "last": -1}[lex.month_words[squash(m["which"])]]
        anchor = today + relativedelta(months=shift)
        return Candidate(m.start(), m.end(), _valid(anchor.year, anchor.month, day), 6)
    first = today.replace(day=1)
    for ahead in range(0, 3):
        month = first + relativedelta(months=ahead)
        found = _valid(month.year, month.month, day)
        if found is not None and found >= today:
            return Candidate(m.start(), m.end(), found, 6)
    return None
