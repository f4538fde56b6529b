"""References in free text (PO, invoice, ASN, shipment, container, AWB, SSCC, case), by keyword
and by shape, with the check digits that tell a real container, SSCC or AWB number from noise;
and the fuzzy match of what a partner typed onto the references of its open cases."""
from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process

from intents.lexicon import Lexicon, alternation, squash

CHECKED_KINDS = ("container", "sscc", "awb")
# ISO 6346 letter values: 10 upwards, skipping multiples of 11.
_ISO6346 = {}
_value = 10
for _letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    if _value % 11 == 0:
        _value += 1
    _ISO6346[_letter] = _value
    _value += 1


@dataclasses.dataclass(frozen=True)
class Reference:
    kind: str
    value: str
    start: int
    end: int

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}


def container_valid(code: str) -> bool:
    """ISO 6346: owner code, category U/J/Z, six digits, and the check digit."""
    code = re.sub(r"[\s-]", "", code).upper()
    if not re.fullmatch(r"[A-Z]{3}[UJZ]\d{7}", code):
        return False
    total = sum((_ISO6346[c] if c.isalpha() else int(c)) << i for i, c in enumerate(code[:10]))
    return total % 11 % 10 == int(code[10])


def gs1_valid(digits: str) -> bool:
    """GS1 mod 10, as SSCCs (18 digits) carry it."""
    digits = re.sub(r"\D", "", digits)
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def awb_valid(digits: str) -> bool:
    """Air waybill: 3-digit airline prefix, 7-digit serial, check digit = serial mod 7."""
    digits = re.sub(r"\D", "", digits)
    return len(digits) == 11 and int(digits[3:10]) % 7 == int(digits[10])


@dataclasses.dataclass(frozen=True)
class _Patterns:
    keyword: re.Pattern[str]
    more: re.Pattern[str]
    container: re.Pattern[str]
    sscc: re.Pattern[str]
    awb: re.Pattern[str]
    gate: frozenset[str]


# A reference starts with a digit, or with a short prefix glued to digits ("RE-2026-0042").
VALUE = r"(?P<value>(?:[a-z]{1,4}[-/.#]?)?\d(?:[a-z0-9]|[-/.](?=[a-z0-9])|\s(?=\d{3,}(?![\d/.:-]\d)))*)"
WORD = re.compile(r"[^\W\d_]+")
DIGIT = re.compile(r"\d")
DATE_SHAPED = re.compile(r"(?:0?[1-9]|[12]\d|3[01])[/.](?:0?[1-9]|[12]\d|3[01])(?:[/.](?:\d{2}|\d{4}))?")


@functools.lru_cache(maxsize=16)
def _patterns(lex: Lexicon) -> _Patterns:
    words = alternation(lex.reference_words)
    return _Patterns(
        keyword=re.compile(rf"(?<![^\W\d_])(?P<kw>{words})(?:(?:\s*(?:no\.?|nr\.?|n[oº°]|number|num|#|:|-|=|is|ist|es|est|é)\s*)+|\s*)"
                           rf"{VALUE}"),
        more=re.compile(rf"\s*(?:&|,|/|\+|\band\b|\bund\b|\by\b|\bet\b|\be\b)\s*{VALUE}"),
        container=re.compile(r"(?<![a-z0-9])(?P<value>[a-z]{3}[ujz]\s?-?\d{6}\s?-?\d)(?![a-z0-9])"),
        sscc=re.compile(r"(?<!\d)(?:\(00\)\s?)?(?P<value>\d{18}|\d(?:\s?\d){17})(?!\d)"),
        awb=re.compile(r"(?<!\d)(?P<value>\d{3}[-\s]?\d{4}\s?\d{4})(?!\d)"),
        gate=frozenset(WORD.search(w).group(0) for w in lex.reference_words if WORD.search(w)),
    )


def find(original: str, folded: str, lex: Lexicon) -> list[Reference]:
    """References in order of appearance; `value` as written, without the kind word."""
    p = _patterns(lex)
    found: list[Reference] = []
    has_digit = DIGIT.search(folded) is not None
    if not has_digit:
        return found
    if not p.gate.isdisjoint(WORD.findall(folded)):
        for m in p.keyword.finditer(folded):
            value = original[m.start("value"):m.end("value")].strip(" -/.")
            if not any(c.isdigit() for c in value) or len(value) < 2:
                continue
            kind = lex.reference_words[squash(m["kw"])]
            value = _without_kind_word(value, kind, lex)
            if DATE_SHAPED.fullmatch(value):
                continue  # "envío 5/12, 20 cajas": the shipment's date, not its number
            found.append(Reference(_checked_kind(kind, value), value, m.start(), m.end("value")))
            end, first = m.end("value"), value
            while (more := p.more.match(folded, end)) is not None:  # "PO 4500012345 & 4500012346"
                value = original[more.start("value"):more.end("value")].strip(" -/.")
                if len(value) < 4 or abs(len(value) - len(first)) > 2 or "/" in value:
                    break  # "PO 4500012345 and 3 pallets": not another PO
                found.append(Reference(_checked_kind(kind, value), value, more.start("value"), more.end("value")))
                end = more.end("value")
    for kind, pattern, valid in (("container", p.container, container_valid), ("sscc", p.sscc, gs1_valid),
                                 ("awb", p.awb, awb_valid)):
        for m in pattern.finditer(folded):
            if valid(m["value"]) and not any(r.start <= m.start() < r.end for r in found):
                found.append(Reference(kind, original[m.start("value"):m.end("value")], m.start(), m.end()))
    return sorted(found, key=lambda r: r.start)


def _without_kind_word(value: str, kind: str, lex: Lexicon) -> str:
    """'invoice INV-88123' -> '88123': the kind word written again before the number goes too."""
    m = re.match(r"([^\W\d_]+)[\s#:-]*(?=\d)", value)
    if m and lex.reference_words.get(m.group(1).lower()) == kind:
        return value[m.end():]
    return value


def _checked_kind(kind: str, value: str) -> str:
    """A keyword says what the writer meant; a check digit that fails says it is not that."""
    if kind == "container":
        return kind if container_valid(value) else "other"
    if kind == "sscc":
        digits = re.sub(r"\D", "", value)
        return kind if len(digits) in (18, 20) and gs1_valid(digits[-18:]) else "other"
    if kind == "awb":
        return kind if awb_valid(value) else "other"
    return kind


def _key(reference: str) -> str:
    """What identifies a reference, whatever the writing: 'PO-778812', 'po 778812' -> '778812'."""
    compact = re.sub(r"[^0-9a-z]", "", reference.lower())
    return re.sub(r"^(?:po|inv|invoice|asn|sh|shp|case|ord|order)(?=\d)", "", compact)


def match(typed: str, known: Sequence[str], cutoff: float = 80.0) -> str | None:
    """The one reference in `known` that `typed` means ('po 77881' -> 'PO-778812'), or None when
    none is close enough or two are equally close."""
    wanted = _key(typed)
    if not wanted or not known:
        return None
    keys = {ref: _key(ref) for ref in known}
    exact = [ref for ref, key in keys.items() if key == wanted]
    if len(exact) == 1:
        return exact[0]
    best = process.extract(wanted, keys, scorer=fuzz.ratio, limit=2, score_cutoff=cutoff)
    if not best or (len(best) == 2 and best[0][1] - best[1][1] < 5):
        return None
    return str(best[0][2])


def spans(references: Iterable[Reference]) -> list[tuple[int, int]]:
    return [(r.start, r.end) for r in references]
