"""JSON at tgwa's two edges, safe for what JSON allows and UTF-8 does not: a lone surrogate
(`"\\ud83d"`, half an emoji from a broken client), which parsers accept and Redis clients,
SQLite and most servers refuse to encode.

- `loads` reads a webhook body: orjson, or the standard library for what orjson refuses (lone
  surrogates, integers past 64 bits, NaN), with every lone surrogate made U+FFFD, as Unicode
  prescribes for ill-formed text. Past the webhook, all text is well-formed.
- `dumps` writes a value to Redis; anything UTF-8 still cannot hold is kept as its `\\u` escape.

Why it matters: a value that cannot be written is worse than any other failure, because the work
holding it can neither finish nor be parked, and it blocks what comes after it.
"""
from __future__ import annotations

import json
from typing import Any

import orjson


def loads(raw: bytes) -> Any:
    """The JSON in `raw`; ValueError when it is not JSON or nests past what a parser takes."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return _well_formed(json.loads(raw))
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def loads_stored(raw: bytes | str) -> Any:
    """JSON tgwa wrote itself (`dumps`): orjson, at a third of the standard library's cost, or the
    standard library for what orjson refuses, which keeps an escaped lone surrogate as it was."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def dumps(value: Any) -> bytes:
    """`value` as compact JSON bytes. A surrogate can only stand inside a JSON string, where the
    `\\uXXXX` that `backslashreplace` writes for it is that string's own escape: reading it back
    gives the same value. (orjson writes the same bytes for everything else, in a fraction of the time.)"""
    try:
        return orjson.dumps(value)
    except TypeError:  # a lone surrogate, an integer past 64 bits, a key that is not a string
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


def _well_formed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:  # pairs are joined, what is left alone becomes U+FFFD
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_well_formed(item) for item in value]
    if isinstance(value, dict):
        return {_well_formed(key): _well_formed(item) for key, item in value.items()}
    return value
