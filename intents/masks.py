"""What looks like a number but is never a date: clock times, money, quantities with their unit,
percentages and phone numbers. Their spans are kept out of date reading."""
from __future__ import annotations

import re

Span = tuple[int, int]
DIGIT = re.compile(r"\d")

_MASKS = re.compile(
    r"""
    (?<![\d.])\d{1,2}[:h]\d{2}(?:\s*(?:am|pm|uhr|hrs?|h)(?![^\W\d_]))?(?!\d)      # 10:30, 14h00, 9:15 pm
  | (?<![\d.:/-])\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.|uhr|hrs|o'clock)(?![^\W\d_])        # 3pm, 15 uhr
  | (?:[$€£¥₹]|\b(?:usd|eur|gbp|chf|jpy|cny|brl|mxn|clp|inr)\b)\s?\d[\d.,']*(?:\s?[km]\b)?   # $12, EUR 4.210,00
  | (?<![\d.,'])\d[\d.,']*+\s?(?:[$€£¥₹]|(?:usd|eur|gbp|chf|jpy|cny|brl|mxn|clp|inr|kg|kgs|g|t|tons?|tonnes?|lbs?|pcs|pc|
        pieces|units|pallets?|plts?|cartons?|ctns|boxes|cases|containers|teu|feu|m3|cbm|m|km|mm|cm|%|percent|
        hours?|hrs?|h|min|mins|minutes?|x|
        paletten|palette|kartons?|kisten?|stuck|stk|packchen|                                # de
        cajas?|palets?|pales?|bultos?|unidades|kilos|                                          # es (folded)
        palettes?|colis|unites|pieces|                                                         # fr
        caixas?|paletes?|volumes|pecas)(?![^\W\d_]))                                          # pt: 3 pallets, 30 Kartons
  | \+\d[\d\s().-]{7,}\d                                                                 # +49 151 2345 6789
  | (?<![\d/.-])\(?\d{3,5}\)?[\s.-]\d{3,4}[\s.-]\d{3,5}(?![\d/.-])                        # (415) 555-0134
    """,
    re.VERBOSE,
)


def find(text: str) -> list[Span]:
    """Spans of `text` (already folded) that are times, amounts, quantities or phone numbers."""
    if not DIGIT.search(text):
        return []
    return [m.span() for m in _MASKS.finditer(text)]
